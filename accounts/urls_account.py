"""URLs of the account pages (profile, security, preferences)."""

urlpatterns: list = []

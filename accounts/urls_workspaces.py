"""URLs of the workspace pages (workspaces, members, invitations, audit log)."""

urlpatterns: list = []

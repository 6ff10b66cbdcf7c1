"""Models of the apikeys app (filled by its issue)."""

"""Models of the privacy app (filled by its issue)."""

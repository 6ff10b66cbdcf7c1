"""Pages about the signed-in person: profile, security, sessions, preferences."""

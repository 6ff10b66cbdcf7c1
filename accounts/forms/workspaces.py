"""Forms for workspaces, members and invitations."""

"""Pages of a workspace: list, create, settings, members, invitations, audit log."""

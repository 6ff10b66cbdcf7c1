"""Template context for the dashboard shell: the current user's workspaces."""

from accounts.selectors import membership_get, workspaces_for_user


def workspace_nav(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    current_id = match.kwargs.get("workspace_id") if match else None
    if current_id is None:
        current_id = request.session.get("current_workspace_id")
    current = getattr(request, "workspace_membership", None)
    if current is None or str(current.workspace_id) != str(current_id):
        current = membership_get(user=user, workspace_id=current_id) if current_id else None
    return {
        "nav_workspaces": workspaces_for_user(user=user),
        "nav_current_membership": current,
        "nav_current_workspace": current.workspace if current else None,
    }

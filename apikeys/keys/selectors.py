"""Reads of API keys with access checks. Missing and forbidden answer the same NotFound."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone

from accounts.errors import NotFound
from accounts.models import Workspace
from accounts.permissions import Perm
from accounts.selectors import workspace_get_for_user
from apikeys.keys.models import ApiKey
from apikeys.keys.services import api_key_can_manage

STATUSES = ("active", "expired", "revoked")
SORTS = {
    "-created": ("-created_at",),
    "created": ("created_at",),
    "-last_used": (F("last_used_at").desc(nulls_last=True), "-created_at"),
    "last_used": (F("last_used_at").asc(nulls_first=True), "-created_at"),
    "name": ("name", "-created_at"),
}


def api_keys_for_workspace(
    *, workspace: Workspace, environment: str = "", status: str = "", sort: str = ""
) -> QuerySet[ApiKey]:
    """The visible keys of a workspace the caller already resolved with KEYS_VIEW."""
    now = timezone.now()
    keys = ApiKey.objects.visible().for_workspace(workspace).select_related("created_by")
    if environment:
        keys = keys.filter(environment=environment)
    if status == "active":
        keys = keys.active(now=now)
    elif status == "expired":
        keys = keys.expired(now=now)
    elif status == "revoked":
        keys = keys.revoked()
    return keys.order_by(*SORTS.get(sort, SORTS["-created"]))


def api_key_get_for_user(*, user, workspace_id, public_id, manage: bool = False):
    """Return (workspace, key) if the user may see the key (and manage it, if asked).

    A key the user may see but not manage raises NotFound too when `manage` is set,
    so pages and endpoints never reveal more than the caller may act on.
    """
    workspace = workspace_get_for_user(
        user=user, workspace_id=workspace_id, permission=Perm.KEYS_VIEW
    )
    if not isinstance(public_id, str) or len(public_id) > 24:
        raise NotFound()
    api_key = (
        ApiKey.objects.visible()
        .for_workspace(workspace)
        .select_related("created_by", "workspace")
        .filter(public_id=public_id)
        .first()
    )
    if api_key is None:
        raise NotFound()
    if manage and not api_key_can_manage(
        api_key=api_key, role=workspace.membership.role, user_id=user.pk
    ):
        raise NotFound()
    return workspace, api_key


def api_key_can_user_manage(*, workspace: Workspace, api_key: ApiKey, user) -> bool:
    return api_key_can_manage(api_key=api_key, role=workspace.membership.role, user_id=user.pk)

"""Account and workspace deletion: the request, the grace period and the resumable job.

A deletion is a ledger row (`DeletionRequest`). After its grace period a worker claims
the row with a conditional UPDATE, then works through a list of steps stored in the
row, one short transaction per batch; each batch's deletes and the ledger's progress
commit together, so a killed worker loses at most one uncommitted batch and whoever
claims the row next carries on from the recorded cursor. Re-running a finished or
claimed deletion does nothing.

Batches are sized by time (see `bulk_delete_window` and privacy/batching.py), and all
but the last commit without waiting for the WAL flush: a database crash can undo the
last few, deletes and progress together, and the job simply does them again.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, DateTimeField, F
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from accounts.audit import audit_erase_personal_data_batch, audit_record
from accounts.emails import email_enqueue, email_enqueue_rendered
from accounts.errors import Conflict, NotFound
from accounts.jobs import job_enqueue
from accounts.models import Invitation, Membership, User, Workspace
from accounts.permissions import Role
from accounts.webhooks import events as webhook_events
from accounts.webhooks.services import webhook_event_record
from privacy.batching import SHRINK_AFTER_TIMEOUT, batch_scale, cancelled_by_timeout
from privacy.deletion.models import DeletionKind, DeletionRequest, DeletionStatus
from privacy.processors.services import (
    processor_actions_for_account_deletion,
    processor_actions_summary,
)

logger = logging.getLogger(__name__)

CANCEL_SALT = "privacy.deletion.cancel"

# Called as hook(deletion_id=..., completed=...) in the transaction that closes an account
# deletion: completed when the job finished, not when it was cancelled. Features above
# this one register here at start-up (privacy.apps), so deletion never imports them.
DELETION_CLOSED_HOOKS: list = []


# Account data owned by features above this one, deleted by their own code: name →
# hook(user_id=..., deletion_id=..., limit=...) returning (counts, finished). Each hook
# is a step of the job, run in batch transactions before the audit trail is erased and
# the account row deleted, until it says it is finished; it must be safe to run again
# after a lost commit. Features register here at start-up (privacy.apps); the name is
# stored in the job's plan, so it never changes.
ACCOUNT_DATA_HOOKS: dict[str, Any] = {}


def _deletion_closed(*, deletion_id: int, completed: bool) -> None:
    for hook in DELETION_CLOSED_HOOKS:
        hook(deletion_id=deletion_id, completed=completed)


class DeletionAction:
    """Audit actions of the deletion flow."""

    ACCOUNT_DELETION_REQUESTED = "account.deletion_requested"
    ACCOUNT_DELETION_CANCELLED = "account.deletion_cancelled"
    ACCOUNT_DELETED = "account.deleted"
    WORKSPACE_DELETION_CANCELLED = "workspace.deletion_cancelled"
    WORKSPACE_PURGED = "workspace.purged"


def _setting(name: str, default):
    return getattr(settings, name, default)


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class UserData:
    """How the deletion job treats rows of one model that belong to a user.

    `anonymise` maps field names to the values written instead of deleting the row; it
    must clear `field` itself, so that each batch shrinks what is left.
    """

    label: str
    field: str = "user"
    anonymise: dict[str, Any] | None = None


@dataclass(frozen=True)
class WorkspaceData:
    """A workspace-scoped model the job deletes (in batches) before the workspace row."""

    label: str
    field: str = "workspace"


USER_DATA: dict[str, UserData] = {}
WORKSPACE_DATA: dict[str, WorkspaceData] = {}


def deletion_register_user_data(
    label: str, *, field: str = "user", anonymise: dict[str, Any] | None = None
) -> None:
    """Declare how an account deletion treats a model's rows about the user (at app ready)."""
    if anonymise is not None and field not in anonymise:
        raise ValueError(f"Anonymising {label} must clear {field!r}.")
    USER_DATA[label] = UserData(label=label, field=field, anonymise=anonymise)


def deletion_register_workspace_data(label: str, *, field: str = "workspace") -> None:
    """Declare a workspace-scoped model the workspace deletion must empty first."""
    WORKSPACE_DATA[label] = WorkspaceData(label=label, field=field)


# Proof of consent is kept (it shows what was agreed), but no longer points at a person.
deletion_register_user_data(
    "privacy.ConsentRecord",
    anonymise={"user": None, "user_agent": "", "ip_hash": ""},
)
deletion_register_user_data("privacy.PrivacySettings")
# Endpoints go before the workspace row, in batches, with their messages and log.
deletion_register_workspace_data("webhooks.WebhookEndpoint")


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


# ---------------------------------------------------------------------------- selector


@dataclass
class DeletionPlan:
    """What deleting an account does to each of the person's workspaces."""

    deleted: list[Workspace] = field(default_factory=list)
    kept: list[Workspace] = field(default_factory=list)
    # Workspace id → number of other members who lose access with it.
    members_losing_access: dict = field(default_factory=dict)


def account_deletion_plan(*, user: User) -> DeletionPlan:
    """Return which workspaces go with the account (sole owner) and which keep their data."""
    memberships = list(
        Membership.objects.filter(user=user, workspace__deleted_at__isnull=True)
        .select_related("workspace")
        .order_by("workspace__name")
    )
    owned = [m.workspace_id for m in memberships if m.role == Role.OWNER]
    co_owned = set(
        Membership.objects.filter(workspace_id__in=owned, role=Role.OWNER)
        .exclude(user=user)
        .values_list("workspace_id", flat=True)
    )
    others = dict(
        Membership.objects.filter(workspace_id__in=owned)
        .exclude(user=user)
        .values("workspace_id")
        .annotate(n=Count("id"))
        .values_list("workspace_id", "n")
    )
    plan = DeletionPlan()
    for membership in memberships:
        workspace = membership.workspace
        if membership.role == Role.OWNER and workspace.pk not in co_owned:
            plan.deleted.append(workspace)
            plan.members_losing_access[workspace.pk] = others.get(workspace.pk, 0)
        else:
            plan.kept.append(workspace)
    return plan


def _sole_owner_workspace_ids(user_id: int) -> list[str]:
    # At run time, deleted-but-not-yet-purged workspaces count too: they are the user's.
    owned = list(
        Membership.objects.filter(user_id=user_id, role=Role.OWNER).values_list(
            "workspace_id", flat=True
        )
    )
    co_owned = set(
        Membership.objects.filter(workspace_id__in=owned, role=Role.OWNER)
        .exclude(user_id=user_id)
        .values_list("workspace_id", flat=True)
    )
    return sorted(str(pk) for pk in owned if pk not in co_owned)


def account_deletion_pending(*, user: User) -> DeletionRequest | None:
    """Return the user's open account deletion, if any."""
    return DeletionRequest.objects.open().for_account(user.pk).first()


# ---------------------------------------------------------------------------- requests


def deletion_cancel_token(*, deletion: DeletionRequest) -> str:
    return signing.dumps({"deletion": deletion.pk}, salt=CANCEL_SALT)


def deletion_cancel_url(*, deletion: DeletionRequest) -> str:
    token = deletion_cancel_token(deletion=deletion)
    return f"{settings.SITE_URL}/account/delete/cancel/{token}/"


def _enqueue_run(deletion_id: int) -> None:
    job_enqueue("privacy.deletion_run", deletion_id=deletion_id)


@transaction.atomic
def account_deletion_request(
    *,
    user: User,
    actor: User | None = None,
    reason: str = "user_request",
    grace_days: int | None = None,
    send_receipt: bool = True,
) -> DeletionRequest:
    """Schedule the account's deletion after the grace period; return the ledger row.

    Asking again while a deletion is open returns the open one.
    """
    existing = account_deletion_pending(user=user)
    if existing is not None:
        return existing
    if grace_days is None:
        grace_days = int(_setting("ACCOUNT_DELETION_GRACE_DAYS", 30))
    now = timezone.now()
    plan = account_deletion_plan(user=user)
    try:
        with transaction.atomic():
            deletion = DeletionRequest.objects.create(
                kind=DeletionKind.ACCOUNT,
                target_id=str(user.pk),
                requested_by_id=(actor or user).pk,
                requested_at=now,
                scheduled_for=now + timedelta(days=grace_days),
                reason=reason,
                send_receipt=send_receipt,
            )
    except IntegrityError:
        # A concurrent request won the race; theirs is the one.
        return DeletionRequest.objects.open().for_account(user.pk).get()
    audit_record(
        action=DeletionAction.ACCOUNT_DELETION_REQUESTED,
        actor=actor or user,
        subject_user=user,
        target=deletion,
        metadata={
            "grace_days": grace_days,
            "reason": reason,
            "workspaces_deleted": [str(w.pk) for w in plan.deleted],
            "workspaces_kept": [str(w.pk) for w in plan.kept],
        },
    )
    if send_receipt:
        email_enqueue(
            to=[user.email],
            template="privacy/deletion_email/requested",
            context={
                "scheduled_for": deletion.scheduled_for,
                "grace_days": grace_days,
                "cancel_url": deletion_cancel_url(deletion=deletion),
                "deleted": [w.name for w in plan.deleted],
                "kept": [w.name for w in plan.kept],
            },
        )
    if grace_days == 0:
        _enqueue_run(deletion.pk)
    return deletion


@transaction.atomic
def deletion_cancel(*, deletion: DeletionRequest, actor: User | None = None) -> DeletionRequest:
    """Cancel a deletion still in its grace period; once running it cannot be cancelled."""
    now = timezone.now()
    # Conditional, so a cancel and a claim racing on the row cannot both succeed.
    updated = DeletionRequest.objects.filter(pk=deletion.pk, status=DeletionStatus.PENDING).update(
        status=DeletionStatus.CANCELLED, cancelled_at=now
    )
    deletion.refresh_from_db()
    if not updated:
        if deletion.status == DeletionStatus.CANCELLED:
            return deletion
        raise Conflict("This deletion has already started and can no longer be cancelled.")
    if deletion.kind == DeletionKind.ACCOUNT:
        audit_record(
            action=DeletionAction.ACCOUNT_DELETION_CANCELLED,
            actor=actor,
            subject_user=int(deletion.target_id),
            target=deletion,
        )
        user = User.objects.filter(pk=int(deletion.target_id)).first()
        if user is not None:
            email_enqueue(
                to=[user.email],
                template="privacy/deletion_email/cancelled",
                context={"cancelled_at": now},
            )
        _deletion_closed(deletion_id=deletion.pk, completed=False)
    else:
        Workspace.objects.filter(pk=deletion.target_id).update(deleted_at=None)
        audit_record(
            action=DeletionAction.WORKSPACE_DELETION_CANCELLED,
            actor=actor,
            workspace=deletion.target_id,
            target=deletion,
        )
        webhook_event_record(
            workspace=deletion.target_id,
            event_type=webhook_events.WORKSPACE_DELETION_CANCELLED,
            data={"workspace_id": deletion.target_id},
        )
    return deletion


def account_deletion_cancel(*, user: User, actor: User | None = None) -> DeletionRequest:
    """Cancel the user's pending account deletion (signed in)."""
    deletion = account_deletion_pending(user=user)
    if deletion is None:
        raise NotFound("There is no pending deletion of this account.")
    return deletion_cancel(deletion=deletion, actor=actor or user)


def deletion_from_cancel_token(*, token: str) -> DeletionRequest:
    """Resolve an emailed cancel link; anything invalid or expired is NotFound."""
    max_age = timedelta(days=int(_setting("ACCOUNT_DELETION_GRACE_DAYS", 30)) + 1)
    try:
        data = signing.loads(token[:512], salt=CANCEL_SALT, max_age=max_age)
        deletion_id = int(data["deletion"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise NotFound() from None
    deletion = DeletionRequest.objects.filter(pk=deletion_id, kind=DeletionKind.ACCOUNT).first()
    if deletion is None:
        raise NotFound()
    return deletion


def account_deletion_cancel_by_token(*, token: str) -> DeletionRequest:
    """Cancel a pending account deletion from the emailed link."""
    deletion = deletion_from_cancel_token(token=token)
    return deletion_cancel(deletion=deletion, actor=None)


def workspace_deletion_schedule(*, workspace: Workspace) -> DeletionRequest:
    """Create the ledger row for a workspace marked deleted (the `deleted` workspace hook)."""
    existing = (
        DeletionRequest.objects.open()
        .filter(kind=DeletionKind.WORKSPACE, target_id=str(workspace.pk))
        .first()
    )
    if existing is not None:
        return existing
    grace_days = int(_setting("WORKSPACE_DELETION_GRACE_DAYS", 30))
    now = timezone.now()
    deletion = DeletionRequest.objects.create(
        kind=DeletionKind.WORKSPACE,
        target_id=str(workspace.pk),
        requested_at=now,
        scheduled_for=now + timedelta(days=grace_days),
        reason="workspace_deleted",
        send_receipt=False,
    )
    webhook_event_record(
        workspace=workspace,
        event_type=webhook_events.WORKSPACE_DELETION_SCHEDULED,
        data={
            "workspace_id": str(workspace.pk),
            "name": workspace.name,
            "scheduled_for": deletion.scheduled_for.isoformat(),
        },
    )
    if grace_days == 0:
        _enqueue_run(deletion.pk)
    return deletion


def workspace_hook_schedule_deletion(*, workspace: Workspace, **_) -> None:
    """Hook for accounts.services.WORKSPACE_HOOKS["deleted"]."""
    workspace_deletion_schedule(workspace=workspace)


# ---------------------------------------------------------------------------- bulk deletes


def bulk_delete_batch(
    *,
    model,
    workspace_id,
    time_field: str,
    since: Any = None,
    before: Any = None,
    limit: int,
) -> tuple[int, Any]:
    """Delete about `limit` rows of one workspace, oldest first; return (count, next since).

    The batch is a range of the (workspace_id, time) index: its upper end is found by
    an index-only scan `limit` entries ahead, then one DELETE removes the range, so the
    heap is visited once per row and nothing is brought into Python. Rows of one
    workspace do not form a primary-key range (workspaces interleave), which is why
    the index, not the key, bounds each batch. The next since is None when nothing is
    left; pass it back to continue where this batch ended.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    time_model_field = model._meta.get_field(time_field)
    column = connection.ops.quote_name(time_model_field.column)
    workspace_column = connection.ops.quote_name(model._meta.get_field("workspace").column)
    workspace = workspace_id if connection.vendor == "postgresql" else _hex(workspace_id)
    where = [f"{workspace_column} = %s"]
    params: list[Any] = [workspace]
    if since is not None:
        where.append(f"{column} >= %s")
        params.append(_moment_param(time_model_field, since))
    if before is not None:
        where.append(f"{column} < %s")
        params.append(_moment_param(time_model_field, before))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {' AND '.join(where)} "  # noqa: S608
            f"ORDER BY {column} LIMIT 1 OFFSET %s",
            [*params, limit],
        )
        found = cursor.fetchone()
        upper = found[0] if found else None
        if upper is not None:
            where.append(f"{column} < %s")
            params.append(_moment_param(time_model_field, upper))
        cursor.execute(f"DELETE FROM {table} WHERE {' AND '.join(where)}", params)  # noqa: S608
        count = cursor.rowcount
    return count, upper


@dataclass
class WindowResult:
    """One windowed delete: rows gone, where the next window starts (None: done), its span."""

    count: int
    since: datetime | None
    span: float
    timed_out: bool = False


def bulk_delete_window(
    *,
    model,
    workspace_id,
    time_field: str,
    since: datetime | None,
    span: float | None,
    first_batch: int,
    max_rows: int,
    target_ms: float,
    timeout_ms: int,
) -> WindowResult:
    """Delete one window of a workspace's rows along the (workspace_id, time) index.

    The first window (`span` None) is exactly `first_batch` rows, bounded by an
    index-only scan; it measures how long rows take to delete. Later windows are time
    ranges `[since, since + span)` whose span is scaled after every batch so that a
    delete takes about `target_ms` (and about `max_rows` rows at most), which saves the
    bounding scan and keeps the number of commits low. A burst of rows denser than
    expected cannot make a long transaction: the statement is cancelled after
    `timeout_ms`, nothing of it is kept, and the window shrinks. After each delete one
    index probe finds the next row, which skips gaps and tells when nothing is left.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    time_model_field = model._meta.get_field(time_field)
    column = connection.ops.quote_name(time_model_field.column)
    workspace_column = connection.ops.quote_name(model._meta.get_field("workspace").column)
    workspace = workspace_id if connection.vendor == "postgresql" else _hex(workspace_id)
    where = f"{workspace_column} = %s AND {column} >= %s"
    # Days cannot be split into spans of seconds: date-keyed tables (small rollups) go
    # in exact batches throughout.
    windowed = isinstance(time_model_field, DateTimeField)

    def next_row(cursor, after) -> Any:
        condition, params = (
            (where, [workspace, _moment_param(time_model_field, after)])
            if after is not None
            else (
                f"{workspace_column} = %s",
                [workspace],
            )
        )
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE {condition} ORDER BY {column} LIMIT 1",  # noqa: S608
            params,
        )
        found = cursor.fetchone()
        return _aware(found[0]) if found else None

    with connection.cursor() as cursor:
        if since is None:
            since = next_row(cursor, None)
            if since is None:
                return WindowResult(count=0, since=None, span=0.0)
        if span is None or not windowed:
            started = time.perf_counter()
            count, upper = bulk_delete_batch(
                model=model,
                workspace_id=workspace_id,
                time_field=time_field,
                since=since,
                limit=first_batch,
            )
            elapsed_ms = (time.perf_counter() - started) * 1000
            if upper is None:
                return WindowResult(count=count, since=None, span=0.0)
            upper = _aware(upper)
            if not windowed:
                return WindowResult(count=count, since=upper, span=0.0)
            span = max((upper - since).total_seconds(), 1e-6)
        else:
            upper = since + timedelta(seconds=span)
            started = time.perf_counter()
            try:
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        # A bitmap scan visits each heap page once, in order; the plain
                        # index scan the planner prefers here deleted a million rows
                        # 10-15% slower, tuple by tuple.
                        cursor.execute(
                            f"SET LOCAL statement_timeout = {int(timeout_ms)}; "
                            "SET LOCAL enable_indexscan = off"
                        )
                    cursor.execute(
                        f"DELETE FROM {table} WHERE {where} AND {column} < %s",  # noqa: S608
                        [
                            workspace,
                            _moment_param(time_model_field, since),
                            _moment_param(time_model_field, upper),
                        ],
                    )
                    count = cursor.rowcount
                    if connection.vendor == "postgresql":
                        # SET LOCAL outlives the savepoint: restore for the rest of the
                        # transaction (the probe below needs its index scan).
                        cursor.execute(
                            "SET LOCAL statement_timeout TO DEFAULT; "
                            "SET LOCAL enable_indexscan TO DEFAULT"
                        )
            except OperationalError as exc:
                if not cancelled_by_timeout(exc):
                    raise
                shrunk = span * SHRINK_AFTER_TIMEOUT
                return WindowResult(count=0, since=since, span=shrunk, timed_out=True)
            elapsed_ms = (time.perf_counter() - started) * 1000
        following = next_row(cursor, upper)
    scale = batch_scale(elapsed_ms=elapsed_ms, target_ms=target_ms, count=count, max_count=max_rows)
    return WindowResult(count=count, since=following, span=span * scale)


def _aware(value: Any) -> Any:
    # SQLite hands back naive datetimes in UTC.
    if isinstance(value, datetime) and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


def _moment_param(field, value: Any) -> Any:
    """A time bound as the database stores it (SQLite compares the stored text)."""
    if isinstance(field, DateTimeField):
        return connection.ops.adapt_datetimefield_value(value)
    return connection.ops.adapt_datefield_value(value)


def _hex(value) -> str:
    return uuid.UUID(str(value)).hex


def _delete_rows(label: str, filters: dict, limit: int) -> tuple[dict[str, int], bool]:
    """Delete up to `limit` rows of a small table through the ORM (which follows cascades)."""
    model = _model(label)
    if model is None:
        return {}, True
    ids = list(
        model._base_manager.filter(**filters).order_by("pk").values_list("pk", flat=True)[:limit]
    )
    if not ids:
        return {}, True
    _, per_model = model._base_manager.filter(pk__in=ids).delete()
    return dict(per_model), len(ids) < limit


# ---------------------------------------------------------------------------- steps


class LostClaim(Exception):
    """Another worker owns the ledger row now; stop without touching anything."""


@dataclass
class BatchResult:
    counts: dict[str, int] = field(default_factory=dict)
    cursor: Any = None
    finished: bool = False


def _workspace_steps(workspace_id: str) -> list[dict]:
    steps = [
        {"op": "bulk", "label": "apikeys.UsageRecord", "time": "occurred_at", "ws": workspace_id},
        {"op": "bulk", "label": "apikeys.UsageDailyRollup", "time": "day", "ws": workspace_id},
        {
            "op": "bulk",
            "label": "apikeys.UsageWorkspaceDailyRollup",
            "time": "day",
            "ws": workspace_id,
        },
        {"op": "rows", "label": "apikeys.BudgetAlert", "filters": {"workspace_id": workspace_id}},
        {"op": "rows", "label": "apikeys.ApiKey", "filters": {"workspace_id": workspace_id}},
        {"op": "rows", "label": "accounts.Invitation", "filters": {"workspace_id": workspace_id}},
        {"op": "rows", "label": "accounts.Membership", "filters": {"workspace_id": workspace_id}},
    ]
    for item in WORKSPACE_DATA.values():
        steps.append(
            {"op": "rows", "label": item.label, "filters": {f"{item.field}_id": workspace_id}}
        )
    steps.append({"op": "workspace_row", "ws": workspace_id})
    return steps


def _plan_steps(deletion: DeletionRequest) -> list[dict]:
    if deletion.kind == DeletionKind.WORKSPACE:
        return _workspace_steps(deletion.target_id)
    user_id = int(deletion.target_id)
    owned = _sole_owner_workspace_ids(user_id)
    steps: list[dict] = [
        {"op": "deactivate", "user": user_id, "workspaces": owned},
        # Before any data goes: the identifiers processors need are still there.
        {"op": "processors", "user": user_id, "deletion": deletion.pk},
    ]
    for workspace_id in owned:
        steps.extend(_workspace_steps(workspace_id))
    steps += [
        # Memberships left are in workspaces someone else owns: those keep their data.
        {"op": "rows", "label": "accounts.Membership", "filters": {"user_id": user_id}},
        {"op": "invitations_to", "user": user_id},
    ]
    for item in USER_DATA.values():
        op = "anonymise" if item.anonymise is not None else "rows"
        steps.append(
            {"op": op, "label": item.label, "filters": {f"{item.field}_id": user_id}}
            if op == "rows"
            else {"op": op, "label": item.label, "user": user_id}
        )
    for name in ACCOUNT_DATA_HOOKS:
        steps.append({"op": "hook", "name": name, "user": user_id, "deletion": deletion.pk})
    steps += [
        {"op": "audit_erase", "user": user_id},
        {"op": "receipt", "user": user_id},
        {"op": "rows", "label": "mfa.Authenticator", "filters": {"user_id": user_id}},
        {"op": "rows", "label": "account.EmailAddress", "filters": {"user_id": user_id}},
        {"op": "user_row", "user": user_id},
    ]
    return steps


def _step_bulk(step: dict, cursor: Any, limit: int) -> BatchResult:
    model = apps.get_model(step["label"])
    since, span = None, None
    if isinstance(cursor, dict):
        since = _parse_moment(cursor["since"])
        span = cursor.get("span")
    elif isinstance(cursor, str):  # a cursor recorded before windows: a bare timestamp
        since = _parse_moment(cursor)
    result = bulk_delete_window(
        model=model,
        workspace_id=step["ws"],
        time_field=step["time"],
        since=since,
        span=span,
        first_batch=limit,
        max_rows=int(_setting("DELETION_BATCH_MAX_ROWS", 200_000)),
        target_ms=float(_setting("DELETION_BATCH_TARGET_MS", 40)),
        timeout_ms=int(_setting("DELETION_STATEMENT_TIMEOUT_MS", 70)),
    )
    finished = result.since is None
    return BatchResult(
        counts={step["label"]: result.count} if result.count else {},
        cursor=None if finished else {"since": result.since.isoformat(), "span": result.span},
        finished=finished,
    )


def _parse_moment(value: str) -> Any:
    return parse_datetime(value) if "T" in value else parse_date(value)


def _step_rows(step: dict, cursor: Any, limit: int) -> BatchResult:
    counts, finished = _delete_rows(step["label"], step["filters"], _small_batch(limit))
    return BatchResult(counts=counts, finished=finished)


def _step_deactivate(step: dict, cursor: Any, limit: int) -> BatchResult:
    from allauth.usersessions.models import UserSession
    from django.contrib.sessions.models import Session

    from apikeys.keys.services import api_key_cache_invalidate_workspace

    user_id = step["user"]
    # An inactive user cannot sign in, and existing sessions stop authenticating.
    User.objects.filter(pk=user_id).update(is_active=False)
    # The workspaces that go with the account stop serving at once, before their data
    # is deleted: their keys are refused on the next verify in every process, usage
    # reports for them are refused, and their pending invitations are revoked.
    now = timezone.now()
    going = step.get("workspaces", [])
    Workspace.objects.filter(pk__in=going, deleted_at__isnull=True).update(deleted_at=now)
    Invitation.objects.filter(workspace_id__in=going).pending().update(revoked_at=now)
    for workspace_id in going:
        api_key_cache_invalidate_workspace(workspace_id)
    keys = list(UserSession.objects.filter(user_id=user_id).values_list("session_key", flat=True))
    sessions, _ = Session.objects.filter(session_key__in=keys).delete()
    user_sessions, _ = UserSession.objects.filter(user_id=user_id).delete()
    counts = {}
    if sessions:
        counts["sessions.Session"] = sessions
    if user_sessions:
        counts["usersessions.UserSession"] = user_sessions
    return BatchResult(counts=counts, finished=True)


def _step_invitations_to(step: dict, cursor: Any, limit: int) -> BatchResult:
    from allauth.account.models import EmailAddress

    user_id = step["user"]
    emails = set(EmailAddress.objects.filter(user_id=user_id).values_list("email", flat=True))
    emails |= set(User.objects.filter(pk=user_id).values_list("email", flat=True))
    if not emails:
        return BatchResult(finished=True)
    filters = {"email__in": sorted(e.lower() for e in emails)}
    counts, finished = _delete_rows("accounts.Invitation", filters, _small_batch(limit))
    return BatchResult(counts=counts, finished=finished)


def _step_anonymise(step: dict, cursor: Any, limit: int) -> BatchResult:
    item = USER_DATA.get(step["label"])
    model = _model(step["label"])
    if item is None or model is None:
        return BatchResult(finished=True)
    batch = _small_batch(limit)
    ids = list(
        model._base_manager.filter(**{f"{item.field}_id": step["user"]})
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return BatchResult(finished=True)
    count = model._base_manager.filter(pk__in=ids).update(**item.anonymise)
    return BatchResult(counts={f"{step['label']} (anonymised)": count}, finished=len(ids) < batch)


def _step_hook(step: dict, cursor: Any, limit: int) -> BatchResult:
    hook = ACCOUNT_DATA_HOOKS.get(step["name"])
    if hook is None:
        # Unregistered since the plan was made: the account row's delete still takes
        # the rows along, and the features' sweeps their files.
        logger.warning("Deletion step %s has no hook registered; skipped.", step["name"])
        return BatchResult(finished=True)
    counts, finished = hook(
        user_id=step["user"], deletion_id=step["deletion"], limit=_small_batch(limit)
    )
    return BatchResult(counts=counts, finished=finished)


def _step_processors(step: dict, cursor: Any, limit: int) -> BatchResult:
    counts, finished = processor_actions_for_account_deletion(
        user_id=step["user"], deletion_id=step["deletion"], limit=_small_batch(limit)
    )
    return BatchResult(counts=counts, finished=finished)


def _step_audit_erase(step: dict, cursor: Any, limit: int) -> BatchResult:
    # The erasing updates are heap-only (see accounts migration 0004), a few µs an
    # event with the append-only trigger's check included.
    batch = int(_setting("DELETION_AUDIT_BATCH_SIZE", 10_000))
    erased, last_id = audit_erase_personal_data_batch(
        user_id=step["user"], after_id=cursor or 0, limit=batch
    )
    counts = {"accounts.AuditEvent (personal data erased)": erased} if erased else {}
    return BatchResult(counts=counts, cursor=last_id, finished=last_id is None)


def _step_workspace_row(step: dict, cursor: Any, limit: int) -> BatchResult:
    _, per_model = Workspace.objects.filter(pk=step["ws"]).delete()
    return BatchResult(counts=dict(per_model), finished=True)


def _step_user_row(step: dict, cursor: Any, limit: int) -> BatchResult:
    # The ORM follows whatever still points at the user (SET_NULL, small cascades).
    _, per_model = User.objects.filter(pk=step["user"]).delete()
    return BatchResult(counts=dict(per_model), finished=True)


STEP_HANDLERS = {
    "bulk": _step_bulk,
    "rows": _step_rows,
    "deactivate": _step_deactivate,
    "invitations_to": _step_invitations_to,
    "anonymise": _step_anonymise,
    "hook": _step_hook,
    "processors": _step_processors,
    "audit_erase": _step_audit_erase,
    "workspace_row": _step_workspace_row,
    "user_row": _step_user_row,
}

PHASES = {
    "bulk": "usage",
    "rows": "records",
    "deactivate": "sign-out",
    "invitations_to": "invitations",
    "anonymise": "anonymise",
    "hook": "records",
    "processors": "processors",
    "audit_erase": "audit",
    "receipt": "receipt",
    "workspace_row": "workspace",
    "user_row": "account",
}


def _small_batch(limit: int) -> int:
    return min(limit, int(_setting("DELETION_SMALL_BATCH_SIZE", 500)))


# ---------------------------------------------------------------------------- receipt

KEPT = [
    (
        "Audit events",
        "Kept with your email address, IP addresses and browser details erased: the "
        "tamper-evident log of security events must stay complete.",
    ),
    (
        "Cookie consent records",
        "Kept without any link to you, as proof of what was agreed.",
    ),
    (
        "Privacy request correspondence",
        "Kept for up to three years to show how a request was handled.",
    ),
    (
        "Workspaces someone else also owns",
        "Kept with their data; only your membership was removed.",
    ),
    (
        "This deletion record",
        "Kept without personal data, as proof that the deletion happened.",
    ),
]


def deletion_register_kept(what: str, why: str) -> None:
    """Name data a feature above this one keeps after an account deletion (at app ready)."""
    if all(existing != what for existing, _ in KEPT):
        KEPT.insert(-1, (what, why))


def _receipt(deletion: DeletionRequest, now: datetime) -> dict:
    return {
        "deletion_id": deletion.pk,
        "kind": deletion.kind,
        "requested_at": deletion.requested_at.isoformat(),
        "completed_at": None,
        "receipt_at": now.isoformat(),
        "deleted": dict(sorted(deletion.progress.get("counts", {}).items())),
        "workspaces_deleted": len(deletion.progress.get("workspaces", [])),
        "to_follow": ["Sign-in addresses", "Two-factor devices", "The account itself"],
        # Each processor told to erase the account's data, and where it stood.
        "processors": processor_actions_summary(deletion_id=deletion.pk),
        "kept": [{"what": what, "why": why} for what, why in KEPT],
    }


# The outbox kind of the receipt; when it is sent the ledger row records it.
RECEIPT_EMAIL_KIND = "privacy.deletion_receipt"


def _queue_receipt(deletion: DeletionRequest, user_id: int, receipt: dict) -> None:
    """Write the receipt to the outbox, in the batch's transaction.

    It is queued while the address still exists (the next steps erase it); the outbox
    keeps its own encrypted copy until it is sent and then for EMAIL_OUTBOX_KEEP_DAYS.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None or not deletion.send_receipt:
        return
    context = {"site_url": settings.SITE_URL, "receipt": receipt, "kept": KEPT}
    subject = render_to_string("privacy/deletion_email/receipt_subject.txt", context).strip()
    body = render_to_string("privacy/deletion_email/receipt_message.txt", context)
    email_enqueue_rendered(
        to=[user.email], subject=subject, body=body, kind=RECEIPT_EMAIL_KIND, ref=str(deletion.pk)
    )


def deletion_receipt_sent(*, ref: str, sent_at: datetime) -> int:
    """Record that the receipt of deletion `ref` went out (an outbox hook)."""
    return DeletionRequest.objects.filter(pk=int(ref), receipt_sent_at__isnull=True).update(
        receipt_sent_at=sent_at
    )


# ---------------------------------------------------------------------------- the job


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deletion_claim(*, deletion_id: int, worker: str, now: datetime | None = None) -> bool:
    """Take the ledger row for `worker` if it is due, released, or its claim went stale."""
    now = now or timezone.now()
    stale = timedelta(seconds=int(_setting("DELETION_CLAIM_STALE_SECONDS", 300)))
    claimed = (
        DeletionRequest.objects.filter(pk=deletion_id)
        .needing_work(now=now, stale_after=stale)
        .update(
            status=DeletionStatus.RUNNING,
            claimed_by=worker,
            claimed_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            started_at=Coalesce(F("started_at"), now),
        )
    )
    return claimed == 1


def _load_claimed(deletion_id: int, worker: str) -> DeletionRequest:
    row = DeletionRequest.objects.filter(
        pk=deletion_id, status=DeletionStatus.RUNNING, claimed_by=worker
    ).first()
    if row is None:
        raise LostClaim()
    return row


def _record(row: DeletionRequest, worker: str, **fields) -> None:
    """Write the batch's progress, in its transaction, only while `worker` holds the claim.

    The worker keeps the ledger row in memory between batches instead of locking and
    re-reading it each time. Whoever takes a stale claim over changes `claimed_by`, so
    a late batch of the old worker updates nothing here, raises, and rolls back.
    """
    updated = DeletionRequest.objects.filter(
        pk=row.pk, status=DeletionStatus.RUNNING, claimed_by=worker
    ).update(**fields)
    if updated != 1:
        raise LostClaim()


def _finish(row: DeletionRequest, now: datetime) -> None:
    counts = row.progress.get("counts", {})
    receipt = row.receipt or _receipt(row, now)
    receipt["completed_at"] = now.isoformat()
    receipt["deleted"] = dict(sorted(counts.items()))
    if row.kind == DeletionKind.ACCOUNT:
        receipt["processors"] = processor_actions_summary(deletion_id=row.pk)
    row.receipt = receipt
    row.status = DeletionStatus.COMPLETED
    row.completed_at = now
    row.claimed_by = ""
    row.progress["phase"] = "done"
    if row.kind == DeletionKind.ACCOUNT:
        audit_record(
            action=DeletionAction.ACCOUNT_DELETED,
            subject_user=int(row.target_id),
            target=row,
            metadata={"deletion_id": row.pk, "counts": counts},
        )
        _deletion_closed(deletion_id=row.pk, completed=True)
    else:
        audit_record(
            action=DeletionAction.WORKSPACE_PURGED,
            workspace=row.target_id,
            target=row,
            metadata={"deletion_id": row.pk, "counts": counts},
        )


# Steps that touch few rows; several of them share one transaction (and one ledger
# update) while it is young, instead of paying for a commit each.
LIGHT_STEPS = {
    "rows",
    "deactivate",
    "invitations_to",
    "anonymise",
    "hook",
    "processors",
    "workspace_row",
    "user_row",
}


def _room_for_another_step(
    result: BatchResult | None, steps: list[dict], index: int, started: float
) -> bool:
    if result is None or not result.finished or index >= len(steps):
        return False
    if steps[index]["op"] not in LIGHT_STEPS:
        return False
    elapsed_ms = (time.perf_counter() - started) * 1000
    return elapsed_ms < float(_setting("DELETION_BATCH_TARGET_MS", 40)) / 2


def _run_batch(row: DeletionRequest, worker: str, limit: int) -> tuple[bool, float, str]:
    """Run one batch in its own transaction; return (finished, milliseconds, first step).

    `row` is the worker's copy of the ledger row; its progress is updated in place and
    is what the next batch continues from.
    """
    started = time.perf_counter()
    progress = dict(row.progress or {})
    receipt_queued = None
    with transaction.atomic():
        now = timezone.now()
        if "steps" not in progress:
            steps = _plan_steps(row)
            progress.update(
                steps=steps,
                step=0,
                cursor=None,
                counts={},
                batches=0,
                max_batch_ms=0,
                workspaces=sorted({s["ws"] for s in steps if "ws" in s}),
            )
        progress["counts"] = dict(progress["counts"])
        steps = progress["steps"]
        first_op = None
        while True:
            step = steps[progress["step"]] if progress["step"] < len(steps) else None
            first_op = first_op or (step["op"] if step else "finish")
            if step is not None and step["op"] == "receipt":
                # Queued in this transaction, so a redone batch never queues it twice.
                if row.receipt_sent_at is None and row.send_receipt:
                    receipt_queued = _receipt(row, now)
                    _queue_receipt(row, int(row.target_id), receipt_queued)
                result = BatchResult(finished=True)
            elif step is not None:
                result = STEP_HANDLERS[step["op"]](step, progress.get("cursor"), limit)
            else:
                result = BatchResult(finished=True)
            if result is not None:
                for label, n in result.counts.items():
                    progress["counts"][label] = progress["counts"].get(label, 0) + n
                progress["cursor"] = None if result.finished else result.cursor
                if result.finished and step is not None:
                    progress["step"] += 1
            progress["phase"] = PHASES.get(step["op"], step["op"]) if step else "done"
            if not _room_for_another_step(result, steps, progress["step"], started):
                break
        progress["batches"] += 1
        done = progress["step"] >= len(steps) and result is not None
        fields: dict[str, Any] = {"progress": progress, "heartbeat_at": now}
        if receipt_queued is not None:
            fields["receipt"] = receipt_queued
        if done:
            finished = _finished_copy(row, progress, now)
            _finish(finished, now)
            fields.update(
                progress=finished.progress,
                status=finished.status,
                completed_at=finished.completed_at,
                receipt=finished.receipt,
                claimed_by="",
            )
        elif connection.vendor == "postgresql":
            # A batch is redone if its commit is lost in a crash: its deletes and its
            # progress commit or vanish together. So it need not wait for the WAL to
            # reach the disk, which cost about 5 ms a batch. The final batch, which
            # sends notices, waits as usual.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        _record(row, worker, **fields)
    # Committed: only now does the worker's copy move on.
    for name, value in fields.items():
        setattr(row, name, value)
    elapsed = (time.perf_counter() - started) * 1000
    return done, elapsed, first_op


def _finished_copy(row: DeletionRequest, progress: dict, now: datetime) -> DeletionRequest:
    # _finish fills in a copy, so the worker's own copy changes only after the commit.
    finished = DeletionRequest.objects.model(
        **{f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}
    )
    finished.progress = {**progress}
    finished.receipt = dict(row.receipt) if row.receipt else row.receipt
    return finished


def _release(deletion_id: int, worker: str, **extra) -> None:
    DeletionRequest.objects.filter(
        pk=deletion_id, status=DeletionStatus.RUNNING, claimed_by=worker
    ).update(claimed_by="", **extra)


def deletion_run(
    *, deletion_id: int, worker: str | None = None, time_budget: float | None = None
) -> str:
    """Claim the deletion and work through it in short batches until done or out of time.

    Return "completed", "yielded" (released; run again), or "not_claimed" (someone
    else has it, it is not due, or it is already finished: nothing was done).
    """
    worker = worker or _worker_name()
    if not deletion_claim(deletion_id=deletion_id, worker=worker):
        return "not_claimed"
    if time_budget is None:
        time_budget = float(_setting("DELETION_TIME_BUDGET_SECONDS", 60))
    limit = int(_setting("DELETION_BATCH_SIZE", 10_000))
    pause = float(_setting("DELETION_BATCH_PAUSE_SECONDS", 0))
    deadline = time.monotonic() + time_budget
    worst: dict[str, float] = {}
    spent: dict[str, float] = {}
    try:
        row = _load_claimed(deletion_id, worker)
        while True:
            done, elapsed, op = _run_batch(row, worker, limit)
            worst[op] = max(worst.get(op, 0.0), elapsed)
            spent[op] = spent.get(op, 0.0) + elapsed
            if done:
                _note_max_batch(deletion_id, worst, spent)
                return "completed"
            if pause:
                time.sleep(pause)
            if time.monotonic() >= deadline:
                _note_max_batch(deletion_id, worst, spent)
                _release(deletion_id, worker)
                return "yielded"
    except LostClaim:
        logger.warning("Deletion %s was taken over by another worker.", deletion_id)
        return "not_claimed"
    except Exception as exc:
        logger.exception("Deletion %s failed a batch.", deletion_id)
        _fail(deletion_id, worker, exc)
        raise


def _note_max_batch(deletion_id: int, worst: dict[str, float], spent: dict[str, float]) -> None:
    # Outside the batches, so measuring never lengthens one.
    with transaction.atomic():
        row = DeletionRequest.objects.select_for_update().filter(pk=deletion_id).first()
        if row is not None and row.progress and worst:
            by_step = row.progress.get("max_batch_ms_by_step", {})
            for op, ms in worst.items():
                by_step[op] = round(max(by_step.get(op, 0.0), ms), 2)
            total_by_step = row.progress.get("total_ms_by_step", {})
            for op, ms in spent.items():
                total_by_step[op] = round(total_by_step.get(op, 0.0) + ms, 1)
            row.progress["max_batch_ms_by_step"] = by_step
            row.progress["total_ms_by_step"] = total_by_step
            row.progress["max_batch_ms"] = max(by_step.values())
            row.save(update_fields=["progress"])


def _fail(deletion_id: int, worker: str, exc: Exception) -> None:
    row = DeletionRequest.objects.filter(pk=deletion_id).first()
    if row is None:
        return
    extra: dict[str, Any] = {"last_error": f"{type(exc).__name__}: {exc}"[:2000]}
    if row.attempts >= int(_setting("DELETION_MAX_ATTEMPTS", 10)):
        extra["status"] = DeletionStatus.FAILED
    _release(deletion_id, worker, **extra)


def deletion_sweep(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Return the ids of ledger rows a worker should run now (due, released or stale)."""
    now = now or timezone.now()
    stale = timedelta(seconds=int(_setting("DELETION_CLAIM_STALE_SECONDS", 300)))
    return list(
        DeletionRequest.objects.needing_work(now=now, stale_after=stale)
        .order_by("scheduled_for")
        .values_list("pk", flat=True)[:limit]
    )

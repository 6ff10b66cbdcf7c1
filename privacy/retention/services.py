"""The retention registry and the daily retention run.

Every installed model declares a retention category and period in `RETENTION`, keyed
by model label (a test fails for any model that does not). Other apps add theirs with
`retention_register(...)` at app ready; settings override the periods at call time
(`RETENTION_OVERRIDES = {"app.Model": {"days": n}}`). The daily run purges or
anonymises what is past its time, in short batches, and writes a `RetentionRun`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import CharField, Exists, Min, OuterRef, Q, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from privacy.batching import SHRINK_AFTER_TIMEOUT, batch_scale, cancelled_by_timeout
from privacy.retention.models import RetentionRun, RetentionRunStatus

logger = logging.getLogger(__name__)


class Action:
    PURGE = "purge"  # deleted once older than the period
    PER_WORKSPACE = "per_workspace"  # deleted after the workspace's own period
    WITH_ACCOUNT = "with_account"  # lives as long as its account or workspace
    KEEP = "keep"  # kept; holds no personal data, or personal data is erased
    CONFIGURATION = "configuration"  # part of the system, not about anyone
    OWN_JOB = "own_job"  # purged by its app's own job (which also removes files)


@dataclass(frozen=True)
class RetentionRule:
    category: str
    period: str  # in words, as the policy says it
    action: str
    days: int | None = None
    age_field: str | None = None  # the timestamp the period counts from
    purge: Callable | None = None  # custom purger: (*, label, rule, now, stats) -> int
    oldest: Callable | None = None  # custom "oldest record" for the overview page


@dataclass
class BatchStats:
    batches: int = 0
    longest_ms: float = 0.0
    timeouts: int = 0  # batches cancelled by the statement timeout and retried smaller

    def timed(self, started: float) -> None:
        self.batches += 1
        self.longest_ms = max(self.longest_ms, (time.perf_counter() - started) * 1000)


def _batch_size() -> int:
    return int(getattr(settings, "RETENTION_BATCH_SIZE", 10_000))


# ---------------------------------------------------------------------------- purgers


def _purge_by_age(*, label: str, rule: RetentionRule, now: datetime, stats: BatchStats) -> int:
    """Delete rows whose `age_field` is older than the period, through the ORM in batches."""
    return _delete_in_batches(
        label, Q(**{f"{rule.age_field}__lt": now - timedelta(rule.days)}), stats
    )


def retention_delete_in_batches(
    label: str, condition: Q, stats: BatchStats, batch: int = 1000
) -> int:
    """Delete the rows of `label` matching `condition` through the ORM, in short batches."""
    return _delete_in_batches(label, condition, stats, batch)


def _delete_in_batches(label: str, condition: Q, stats: BatchStats, batch: int = 1000) -> int:
    model = apps.get_model(label)
    total = 0
    while True:
        started = time.perf_counter()
        with transaction.atomic():
            ids = list(
                model._base_manager.filter(condition)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if ids:
                _, per_model = model._base_manager.filter(pk__in=ids).delete()
                total += per_model.get(label, 0)
        stats.timed(started)
        if len(ids) < batch:
            return total


def _purge_outbound_email(
    *, label: str, rule: RetentionRule, now: datetime, stats: BatchStats
) -> int:
    """Delete sent and given-up emails older than EMAIL_OUTBOX_KEEP_DAYS (read now).

    They hold one-time links and personal data; the ones still to be sent are kept.
    """
    from accounts.models import OutboundEmailStatus

    cutoff = now - timedelta(days=int(getattr(settings, "EMAIL_OUTBOX_KEEP_DAYS", 7)))
    condition = Q(status=OutboundEmailStatus.SENT, sent_at__lt=cutoff) | Q(
        status=OutboundEmailStatus.FAILED, created_at__lt=cutoff
    )
    return _delete_in_batches(label, condition, stats)


def _purge_webhook_messages(
    *, label: str, rule: RetentionRule, now: datetime, stats: BatchStats
) -> int:
    """Delete delivered and given-up webhook messages older than WEBHOOK_KEEP_DAYS (read now).

    Their delivery log goes with them; messages still being retried are kept.
    """
    from accounts.webhooks.models import WebhookMessageStatus

    cutoff = now - timedelta(days=int(getattr(settings, "WEBHOOK_KEEP_DAYS", 30)))
    condition = Q(
        status__in=[WebhookMessageStatus.DELIVERED, WebhookMessageStatus.FAILED],
        created_at__lt=cutoff,
    )
    return _delete_in_batches(label, condition, stats)


# The range of the workspace's usage retention (accounts.Workspace.usage_retention_days).
USAGE_SHORTEST_DAYS = 30
USAGE_LONGEST_DAYS = 90


def _purge_usage(*, label: str, rule: RetentionRule, now: datetime, stats: BatchStats) -> int:
    """Delete usage records past each workspace's own retention period (30 to 90 days)."""
    from apikeys.usage.partitions import usage_partitioned

    if usage_partitioned():
        return _purge_usage_partitioned(now=now, stats=stats)
    return _purge_usage_by_id_ranges(now=now, stats=stats)


def _purge_usage_partitioned(*, now: datetime, stats: BatchStats) -> int:
    """Drop the day partitions past the longest period, then delete per workspace.

    Past USAGE_LONGEST_DAYS every row has expired whatever its workspace: whole
    partitions go, one `DROP TABLE` each. In the partitions between the shortest and
    the longest period, where workspaces differ, each partition is visited once: the
    rows of the workspaces whose period has passed are deleted along the partition's
    (workspace_id, occurred_at) index, in batches of rows sized to take about
    RETENTION_BATCH_TARGET_MS; RETENTION_STATEMENT_TIMEOUT_MS cancels a slower one,
    which is retried smaller. Rows of workspaces still within their period are not
    read.
    """
    from accounts.models import Workspace
    from apikeys.usage.models import UsageRecord
    from apikeys.usage.partitions import usage_partitions, usage_partitions_drop_before

    _, total, skipped = usage_partitions_drop_before(
        before=now - timedelta(days=USAGE_LONGEST_DAYS), timed=stats.timed
    )
    stats.timeouts += skipped
    youngest = now - timedelta(days=USAGE_SHORTEST_DAYS)
    cutoffs: dict[datetime, list] = {}
    for workspace_id, days in Workspace.objects.order_by("pk").values_list(
        "pk", "usage_retention_days"
    ):
        cutoffs.setdefault(now - timedelta(days=days), []).append(workspace_id)
    chunk = _batch_size()
    for partition in usage_partitions():
        if partition.start >= youngest:
            break
        # Workspaces whose period ended after this day lose all its rows: one bound.
        passes = [
            ([w for c, ids in cutoffs.items() if c >= partition.end for w in ids], partition.end)
        ]
        passes += [
            (ids, cutoff)
            for cutoff, ids in sorted(cutoffs.items())
            if partition.start < cutoff < partition.end
        ]
        for workspace_ids, before in passes:
            deleted, chunk = _delete_usage_chunks(
                table=partition.name,
                workspace_ids=workspace_ids,
                before=before,
                chunk=chunk,
                stats=stats,
            )
            total += deleted
    # The default partition is empty unless maintenance stopped (it alerts then); what
    # landed there still expires.
    default = f"{UsageRecord._meta.db_table}_default"
    for cutoff, workspace_ids in sorted(cutoffs.items()):
        deleted, chunk = _delete_usage_chunks(
            table=default, workspace_ids=workspace_ids, before=cutoff, chunk=chunk, stats=stats
        )
        total += deleted
    return total


def _delete_usage_chunks(*, table: str, workspace_ids: list, before, chunk: int, stats):
    """Delete one partition's rows of these workspaces older than `before`, in batches.

    `chunk` is the number of rows per batch; return (rows deleted, next batch size).
    """
    if not workspace_ids:
        return 0, chunk
    qn = connection.ops.quote_name(table)
    # Row ids are unique within one partition, so a batch is a LIMIT on the index scan.
    sql = (
        f"DELETE FROM {qn} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {qn} "  # noqa: S608
        "WHERE workspace_id = ANY(%s::uuid[]) AND occurred_at < %s LIMIT %s))"
    )
    timeout_ms = int(getattr(settings, "RETENTION_STATEMENT_TIMEOUT_MS", 60))
    target_ms = float(getattr(settings, "RETENTION_BATCH_TARGET_MS", 30))
    max_rows = int(getattr(settings, "RETENTION_BATCH_MAX_IDS", 500_000))
    total = 0
    with connection.cursor() as cursor:
        while True:
            started = time.perf_counter()
            try:
                with transaction.atomic():
                    # A single row always goes through, so the walk always advances.
                    cursor.execute(
                        f"SET LOCAL statement_timeout = {timeout_ms if chunk > 1 else 0}; "
                        "SET LOCAL synchronous_commit = off"
                    )
                    cursor.execute(sql, [workspace_ids, before, chunk])
                    count = cursor.rowcount
                    cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
            except OperationalError as exc:
                if not cancelled_by_timeout(exc):
                    raise
                stats.timed(started)
                stats.timeouts += 1
                chunk = max(1, int(chunk * SHRINK_AFTER_TIMEOUT))
                continue
            elapsed_ms = (time.perf_counter() - started) * 1000
            stats.timed(started)
            total += count
            if count < chunk:
                return total, chunk
            scale = batch_scale(elapsed_ms=elapsed_ms, target_ms=target_ms)
            chunk = max(1, min(max_rows, int(chunk * scale)))


def _purge_usage_by_id_ranges(*, now: datetime, stats: BatchStats) -> int:
    """Delete usage records past each workspace's period in a plain (unpartitioned) table.

    Walk the table in primary-key ranges from the oldest row: ids follow arrival, and
    arrival follows time (the gateway's late reports are refused), so each range is
    a contiguous stretch of the table and each page is visited once. Each range
    deletes, in one short statement, the rows older than their workspace's period.
    The walk ends with the newest row older than the shortest period.
    Ranges start at RETENTION_BATCH_SIZE ids and are resized to take about
    RETENTION_BATCH_TARGET_MS each (see privacy/batching.py).
    """
    from accounts.models import Workspace
    from apikeys.usage.models import UsageRecord

    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    workspaces = connection.ops.quote_name(Workspace._meta.db_table)
    step = _batch_size()
    youngest_cutoff = now - timedelta(days=30)
    low = UsageRecord.objects.aggregate(low=Min("id"))["low"]
    last = (
        UsageRecord.objects.filter(occurred_at__lt=youngest_cutoff)
        .order_by("-occurred_at", "-id")
        .values_list("id", flat=True)
        .first()
    )
    if low is None or last is None:
        return 0
    postgres = connection.vendor == "postgresql"
    if postgres:
        sql = (
            f"DELETE FROM {table} u USING {workspaces} w "  # noqa: S608
            f"WHERE u.id >= %s AND u.id < %s AND u.workspace_id = w.id "
            f"AND u.occurred_at < %s - w.usage_retention_days * interval '1 day'"
        )
        # A bitmap scan reads the range's pages once, in order, and a hash join with the
        # workspaces decides each row; the planner otherwise probes the workspace index
        # once per workspace or reads the range tuple by tuple. 38 ms instead of 85 ms
        # for a range of 50,000 ids. Every range is idempotent: if a crash loses its
        # commit, the next run purges it again, so the commit need not wait for the disk.
        timeout_ms = int(getattr(settings, "RETENTION_STATEMENT_TIMEOUT_MS", 60))
        settings_sql = (
            f"SET LOCAL statement_timeout = {timeout_ms}; "
            "SET LOCAL enable_nestloop = off; SET LOCAL enable_indexscan = off; "
            "SET LOCAL synchronous_commit = off"
        )
        # Inside a caller's transaction the settings would outlive the range.
        restore_sql = (
            "SET LOCAL statement_timeout TO DEFAULT; SET LOCAL enable_nestloop TO DEFAULT; "
            "SET LOCAL enable_indexscan TO DEFAULT"
        )
    else:
        sql = (
            f"DELETE FROM {table} WHERE id IN (SELECT u.id FROM {table} u "  # noqa: S608
            f"JOIN {workspaces} w ON w.id = u.workspace_id WHERE u.id >= %s AND u.id < %s "
            f"AND julianday(u.occurred_at) < julianday(%s) - w.usage_retention_days)"
        )
    target_ms = float(getattr(settings, "RETENTION_BATCH_TARGET_MS", 30))
    max_step = int(getattr(settings, "RETENTION_BATCH_MAX_IDS", 500_000))
    total = 0
    while low <= last:
        high = low + step
        started = time.perf_counter()
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                if postgres:
                    cursor.execute(settings_sql)
                cursor.execute(sql, [low, high, now])
                count = cursor.rowcount
                if postgres:
                    cursor.execute(restore_sql)
        except OperationalError as exc:
            if not cancelled_by_timeout(exc):
                raise
            stats.timed(started)
            stats.timeouts += 1
            step = max(1, int(step * SHRINK_AFTER_TIMEOUT))
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        stats.timed(started)
        total += count
        low = high
        scale = batch_scale(elapsed_ms=elapsed_ms, target_ms=target_ms)
        step = max(1, min(max_step, int(step * scale)))
    return total


def _purge_invitations(*, label: str, rule: RetentionRule, now: datetime, stats: BatchStats):
    """Delete invitations 30 days after they expired, were revoked or were accepted."""
    cutoff = now - timedelta(days=rule.days)
    condition = Q(expires_at__lt=cutoff) | Q(revoked_at__lt=cutoff) | Q(accepted_at__lt=cutoff)
    return _delete_in_batches(label, condition, stats)


def _purge_unverified_signups(*, label: str, rule: RetentionRule, now: datetime, stats):
    """Schedule deletion of sign-ups never verified within the period (no grace, no mail)."""
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from privacy.deletion.models import DeletionKind, DeletionRequest
    from privacy.deletion.services import account_deletion_request

    cutoff = now - timedelta(days=rule.days)
    verified = EmailAddress.objects.filter(user_id=OuterRef("pk"), verified=True)
    open_deletions = DeletionRequest.objects.open().filter(
        kind=DeletionKind.ACCOUNT, target_id=OuterRef("pk_text")
    )
    candidates = (
        User.objects.annotate(pk_text=Cast("pk", CharField()))
        .filter(date_joined__lt=cutoff, is_staff=False, is_superuser=False)
        .exclude(Exists(verified))
        .exclude(Exists(open_deletions))
        .order_by("pk")[:500]
    )
    scheduled = 0
    for user in candidates:
        started = time.perf_counter()
        account_deletion_request(
            user=user, reason="unverified_signup", grace_days=0, send_receipt=False
        )
        stats.timed(started)
        scheduled += 1
    return scheduled


def _purge_expired_sessions(*, label: str, rule: RetentionRule, now: datetime, stats):
    return _delete_in_batches(label, Q(expire_date__lt=now), stats)


def _oldest_usage(*, label: str, rule: RetentionRule, now: datetime) -> dict:
    """Find the usage record furthest past its workspace's period (one index probe each)."""
    from accounts.models import Workspace
    from apikeys.usage.models import UsageRecord

    first = UsageRecord.objects.filter(workspace_id=OuterRef("pk")).order_by("occurred_at")
    worst = None
    rows = (
        Workspace.objects.annotate(oldest=Subquery(first.values("occurred_at")[:1]))
        .filter(oldest__isnull=False)
        .values_list("oldest", "usage_retention_days")
    )
    for oldest, days in rows.iterator(chunk_size=2000):
        overdue = (now - oldest) - timedelta(days=days)
        if worst is None or overdue > worst["overdue_by"]:
            worst = {"oldest": oldest, "days": days, "overdue_by": overdue}
    if worst is None:
        return {"oldest": None, "days": None, "overdue": False}
    return {
        "oldest": worst["oldest"],
        "days": worst["days"],
        "overdue": worst["overdue_by"] > timedelta(days=1),
    }


# ---------------------------------------------------------------------------- the registry


def _keep(category: str, period: str) -> RetentionRule:
    return RetentionRule(category=category, period=period, action=Action.KEEP)


def _config(what: str) -> RetentionRule:
    return RetentionRule(
        category="configuration", period=f"{what}; not about anyone", action=Action.CONFIGURATION
    )


def _with_account(category: str, period: str = "until the account is deleted") -> RetentionRule:
    return RetentionRule(category=category, period=period, action=Action.WITH_ACCOUNT)


RETENTION: dict[str, RetentionRule] = {
    # Django and third-party apps.
    "admin.LogEntry": RetentionRule(
        category="staff_actions",
        period="2 years",
        action=Action.PURGE,
        days=730,
        age_field="action_time",
    ),
    "auth.Permission": _config("permission definitions"),
    "auth.Group": _config("staff groups"),
    "auth.Group_permissions": _config("staff group permissions"),
    "contenttypes.ContentType": _config("model registry"),
    "sessions.Session": RetentionRule(
        category="sessions",
        period="until the session expires (Django's SESSION_COOKIE_AGE)",
        action=Action.PURGE,
        days=0,
        age_field="expire_date",
        purge=_purge_expired_sessions,
    ),
    "account.EmailAddress": _with_account("account"),
    "account.EmailConfirmation": RetentionRule(
        category="verification",
        period="3 days (the confirmation link's lifetime)",
        action=Action.PURGE,
        days=3,
        age_field="created",
    ),
    "mfa.Authenticator": _with_account("account"),
    "usersessions.UserSession": RetentionRule(
        category="sessions",
        period="14 days after last seen, or until the account is deleted",
        action=Action.PURGE,
        days=14,
        age_field="last_seen_at",
    ),
    "django_celery_beat.SolarSchedule": _config("job schedules"),
    "django_celery_beat.IntervalSchedule": _config("job schedules"),
    "django_celery_beat.ClockedSchedule": _config("job schedules"),
    "django_celery_beat.CrontabSchedule": _config("job schedules"),
    "django_celery_beat.PeriodicTasks": _config("job schedules"),
    "django_celery_beat.PeriodicTask": _config("job schedules"),
    # Identity and tenancy.
    "accounts.User": RetentionRule(
        category="account",
        period=(
            "while the account is open; deleted after the grace period once closed; "
            "unverified sign-ups after 30 days"
        ),
        action=Action.PURGE,
        days=30,
        age_field="date_joined",
        purge=_purge_unverified_signups,
    ),
    "accounts.User_groups": _with_account("account"),
    "accounts.User_user_permissions": _with_account("account"),
    "accounts.Workspace": _with_account(
        "workspace", "until deleted, then after the workspace grace period"
    ),
    "accounts.Membership": _with_account("workspace"),
    "accounts.Invitation": RetentionRule(
        category="invitations",
        period="30 days after expiry, revocation or acceptance",
        action=Action.PURGE,
        days=30,
        age_field="expires_at",
        purge=_purge_invitations,
    ),
    "accounts.OutboundEmail": RetentionRule(
        category="outbound_email",
        period="EMAIL_OUTBOX_KEEP_DAYS (7) days after it was sent or given up on",
        action=Action.PURGE,
        age_field="created_at",
        purge=_purge_outbound_email,
    ),
    "webhooks.WebhookEndpoint": _with_account("webhooks", "until deleted, or with its workspace"),
    "webhooks.WebhookMessage": RetentionRule(
        category="webhooks",
        period="WEBHOOK_KEEP_DAYS (30) days after it was recorded, once delivered or given up on",
        action=Action.PURGE,
        age_field="created_at",
        purge=_purge_webhook_messages,
    ),
    "webhooks.WebhookAttempt": RetentionRule(
        category="webhooks",
        period="with its message",
        action=Action.WITH_ACCOUNT,
    ),
    "accounts.AuditEvent": _keep(
        "audit", "kept (append-only); personal data erased when the account is deleted"
    ),
    "accounts.AuditCheckpoint": _keep("audit", "kept (append-only) as long as the audit log"),
    # API keys and usage.
    "apikeys.ApiKey": _with_account("api_keys", "until the workspace is deleted"),
    "apikeys.UsageRecord": RetentionRule(
        category="api_usage",
        period="the workspace's usage retention (30 to 90 days)",
        action=Action.PER_WORKSPACE,
        age_field="occurred_at",
        purge=_purge_usage,
        oldest=_oldest_usage,
    ),
    "apikeys.UsageDailyRollup": _keep(
        "usage_rollups", "kept, anonymised (counts per day; no personal data)"
    ),
    "apikeys.UsageWorkspaceDailyRollup": _keep(
        "usage_rollups", "kept, anonymised (counts per day; no personal data)"
    ),
    "apikeys.BudgetAlert": _keep(
        "usage_rollups", "until the workspace is deleted (counts per month; no personal data)"
    ),
    # Privacy.
    "privacy.PrivacySettings": _with_account("account"),
    "privacy.ConsentRecord": RetentionRule(
        category="consent_proof",
        period="3 years; unlinked from the person when the account is deleted",
        action=Action.PURGE,
        days=3 * 365,
        age_field="created_at",
    ),
    "privacy.PolicyVersion": _keep("policies", "kept (published policy texts)"),
    "privacy.PolicyNotice": _with_account("account"),
    "privacy.PolicyAcceptance": _with_account("account"),
    "privacy.PrivacyRequest": RetentionRule(
        category="privacy_requests",
        period=(
            "3 years after the request is closed; a public request never confirmed, "
            "once its confirmation link is PRIVACY_REQUEST_UNCONFIRMED_GRACE_HOURS past expiry"
        ),
        action=Action.PURGE,
        days=3 * 365,
        age_field="closed_at",
    ),
    "privacy.Processor": _config("the processor registry"),
    "privacy.ProcessorAction": RetentionRule(
        category="privacy_requests",
        period=(
            "3 years after the processor completed or refused it, or staff settled it; "
            "the identifiers sent are erased as soon as it is settled"
        ),
        action=Action.PURGE,
        days=3 * 365,
        age_field="closed_at",
    ),
    "privacy.PrivacyRequestNote": RetentionRule(
        category="privacy_requests",
        period="with its privacy request (3 years after closing)",
        action=Action.WITH_ACCOUNT,
    ),
    "privacy.DataExport": RetentionRule(
        category="exports",
        period="at once when expired (7 days after it is ready), with its file",
        action=Action.OWN_JOB,
        days=0,
        age_field="expires_at",
    ),
    "privacy.DeletionRequest": RetentionRule(
        category="deletion_ledger",
        period="3 years after completion (holds no personal data)",
        action=Action.PURGE,
        days=3 * 365,
        age_field="completed_at",
    ),
    "privacy.RetentionRun": RetentionRule(
        category="operations",
        period="1 year",
        action=Action.PURGE,
        days=365,
        age_field="started_at",
    ),
}


def retention_register(label: str, **fields) -> None:
    """Declare a model's retention (call at app ready). See `RetentionRule` for fields."""
    RETENTION[label] = RetentionRule(**fields)


def retention_register_purger(label: str, purge: Callable) -> None:
    """Give a registered model a purger of its own feature (call at app ready)."""
    RETENTION[label] = replace(RETENTION[label], purge=purge)


def retention_rule(label: str) -> RetentionRule | None:
    """Return the rule for a model label with settings overrides applied (at call time)."""
    rule = RETENTION.get(label)
    override = getattr(settings, "RETENTION_OVERRIDES", {}).get(label)
    if rule is not None and override:
        rule = replace(rule, **override)
    return rule


def retention_rules() -> dict[str, RetentionRule]:
    return {label: retention_rule(label) for label in RETENTION}


def retention_unclassified() -> list[str]:
    """Return the labels of installed models that have no retention rule."""
    models = apps.get_models(include_auto_created=True)
    return sorted(m._meta.label for m in models if m._meta.label not in RETENTION)


def _purger(rule: RetentionRule) -> Callable | None:
    if rule.purge is not None:
        return rule.purge
    if rule.action == Action.PURGE and rule.age_field and rule.days is not None:
        return _purge_by_age
    return None


# ---------------------------------------------------------------------------- the run


def retention_run(*, now: datetime | None = None) -> RetentionRun:
    """Purge everything past its period, category by category; record the run.

    A failing category is recorded and the run goes on with the next one.
    """
    now = now or timezone.now()
    run = RetentionRun.objects.create(started_at=now)
    started = time.perf_counter()
    counts: dict[str, int] = {}
    errors: list[dict] = []
    stats = BatchStats()
    for label, rule in retention_rules().items():
        purger = _purger(rule)
        if purger is None:
            continue
        try:
            apps.get_model(label)
        except LookupError:
            continue
        try:
            count = purger(label=label, rule=rule, now=now, stats=stats)
        except Exception as exc:
            logger.exception("Retention of %s failed.", label)
            errors.append({"category": rule.category, "model": label, "error": str(exc)[:500]})
            continue
        counts[rule.category] = counts.get(rule.category, 0) + count
    run.finished_at = timezone.now()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    run.counts = counts
    run.errors = errors
    run.longest_batch_ms = round(stats.longest_ms, 2)
    run.status = (
        RetentionRunStatus.COMPLETED_WITH_ERRORS if errors else RetentionRunStatus.COMPLETED
    )
    run.save()
    return run


# ---------------------------------------------------------------------------- overview


_TIMED = (Action.PURGE, Action.OWN_JOB)


def retention_overview(*, now: datetime | None = None) -> list[dict]:
    """Return, per model, its category, period and oldest record against that period."""
    now = now or timezone.now()
    rows = []
    for label, rule in sorted(retention_rules().items(), key=lambda item: item[1].category):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        row = {"label": label, "category": rule.category, "period": rule.period}
        row.update(oldest=None, overdue=False)
        if rule.oldest is not None:
            row.update(rule.oldest(label=label, rule=rule, now=now))
        elif rule.age_field:
            oldest = model._base_manager.aggregate(oldest=Min(rule.age_field))["oldest"]
            row["oldest"] = oldest
            if oldest is not None and rule.days is not None and rule.action in _TIMED:
                row["overdue"] = oldest < now - timedelta(days=rule.days + 1)
        rows.append(row)
    return rows

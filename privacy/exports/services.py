"""Personal data exports: access, portability and the CCPA right to know.

A Celery job claims the export row, streams each dataset of the person in batches from
a server-side cursor into a ZIP on disk (JSON for everything, CSV as well for tables),
records progress the request page polls, and offers a signed, owner-only download
that expires after EXPORT_TTL_DAYS, when the file is deleted.

Every file in the export folder has an owner row: the file is named after its
`DataExport`, is deleted before its row (on expiry and with the account), and a sweep
deletes whatever file no row owns.

Every model is either exported (DATASETS) or listed in EXCLUDED with a reason; a test
fails when a new model is neither.
"""

from __future__ import annotations

import binascii
import csv
import hashlib
import io
import json
import logging
import os
import queue
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from uuid import UUID

from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    F,
    Func,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.audit import audit_record
from accounts.emails import email_enqueue
from accounts.errors import Conflict, NotFound
from accounts.jobs import job_enqueue, job_start
from privacy.exports.links import export_download_url, export_id_from_token
from privacy.exports.models import DataExport, ExportStatus

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
STALE_AFTER = timedelta(minutes=10)
# Called as hook(export=...) in the transaction that marks an export ready. Features
# above this one register here at start-up (privacy.apps), so exports never imports them.
EXPORT_READY_HOOKS: list = []


# ---------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Dataset:
    """One file (or pair of files) in the export."""

    name: str
    model: str
    description: str
    fields: tuple[str, ...]
    rows: Callable[..., QuerySet]
    table: bool = True  # also written as CSV
    # Fields that may hold other people's data: field → callable(user) giving the rows
    # whose value is the person's own (a Q); elsewhere the value is left out (null or "").
    own_only: dict[str, Callable[..., Q]] | None = None


def _model(label: str):
    return apps.get_model(label)


def _own_event(user) -> Q:
    """Events whose address and browser are the person's own, or about their account.

    Their own actions, and events about their account with no one acting (failed
    sign-ins against it, as the activity page shows them). Where someone else acted
    (staff handling their request, a teammate changing their role) the address and
    browser are that person's, and are left out.
    """
    return Q(actor_id=user.pk) | Q(actor_id__isnull=True, subject_user_id=user.pk)


def _user_keys(user):
    return _model("apikeys.ApiKey").objects.filter(created_by=user)


DATASETS: list[Dataset] = [
    Dataset(
        "profile",
        "accounts.User",
        "Your account: email, name, when you joined and your communication preferences.",
        (
            "id",
            "email",
            "name",
            "date_joined",
            "last_login",
            "age_confirmed_at",
            "marketing_emails",
        ),
        lambda user: _model("accounts.User").objects.filter(pk=user.pk),
        table=False,
    ),
    Dataset(
        "email_addresses",
        "account.EmailAddress",
        "Email addresses on your account and whether each is verified.",
        ("email", "verified", "primary"),
        lambda user: _model("account.EmailAddress").objects.filter(user=user),
    ),
    Dataset(
        "privacy_settings",
        "privacy.PrivacySettings",
        "Your privacy choices: training opt-out, do not sell or share, restriction.",
        ("training_opt_out", "do_not_sell_or_share", "processing_restricted", "updated_at"),
        lambda user: _model("privacy.PrivacySettings").objects.filter(user=user),
        table=False,
    ),
    Dataset(
        "workspaces",
        "accounts.Workspace",
        "Workspaces you belong to, with their data-handling settings.",
        (
            "id",
            "name",
            "is_personal",
            "created_at",
            "usage_retention_days",
            "zero_data_retention",
            "training_opt_out",
        ),
        lambda user: _model("accounts.Workspace").objects.filter(memberships__user=user),
    ),
    Dataset(
        "memberships",
        "accounts.Membership",
        "Your role in each workspace and when you joined it.",
        ("workspace_id", "role", "created_at"),
        lambda user: _model("accounts.Membership").objects.filter(user=user),
    ),
    Dataset(
        "invitations",
        "accounts.Invitation",
        "Invitations you sent or received (never their secret tokens).",
        ("workspace_id", "email", "role", "created_at", "expires_at", "accepted_at", "revoked_at"),
        lambda user: _model("accounts.Invitation").objects.filter(
            Q(invited_by=user) | Q(email__iexact=user.email) | Q(accepted_by=user)
        ),
    ),
    Dataset(
        "api_keys",
        "apikeys.ApiKey",
        "API keys you created: metadata only, never secrets or their hashes.",
        (
            "public_id",
            "workspace_id",
            "name",
            "environment",
            "scopes",
            "last_four",
            "created_at",
            "expires_at",
            "revoked_at",
            "deleted_at",
            "last_used_at",
            "last_used_ip",
            "allowed_ips",
            "max_tokens_per_request",
            "requests_per_minute",
            "tokens_per_minute",
            "monthly_token_budget",
        ),
        _user_keys,
    ),
    Dataset(
        "usage_records",
        "apikeys.UsageRecord",
        "Requests made with your API keys: time, model, tokens, status, latency, "
        "moderation outcome and client IP (absent under zero data retention). No prompts.",
        (
            "request_id",
            "api_key_id",
            "occurred_at",
            "model",
            "input_tokens",
            "output_tokens",
            "status",
            "latency_ms",
            "moderation",
            "client_ip",
        ),
        lambda user: _model("apikeys.UsageRecord").objects.filter(
            api_key__in=_user_keys(user).values("pk")
        ),
    ),
    Dataset(
        "usage_daily",
        "apikeys.UsageDailyRollup",
        "Daily totals for your API keys.",
        ("day", "api_key_id", "model", "requests", "input_tokens", "output_tokens", "flagged"),
        lambda user: _model("apikeys.UsageDailyRollup").objects.filter(
            api_key__in=_user_keys(user).values("pk")
        ),
    ),
    Dataset(
        "consent_records",
        "privacy.ConsentRecord",
        "Every cookie consent decision linked to you, with the policy version and method.",
        (
            "visitor_id",
            "preferences",
            "analytics",
            "marketing",
            "banner_version",
            "method",
            "gpc",
            "created_at",
            "user_agent",
        ),
        lambda user: _model("privacy.ConsentRecord").objects.filter(user=user),
    ),
    Dataset(
        "policy_acceptances",
        "privacy.PolicyAcceptance",
        "Policy versions you accepted or acknowledged, and when.",
        ("policy_version_id", "source", "accepted_at"),
        lambda user: _model("privacy.PolicyAcceptance").objects.filter(user=user),
    ),
    Dataset(
        "policy_notices",
        "privacy.PolicyNotice",
        "Advance notices of policy changes we emailed you.",
        ("policy_version_id", "queued_at", "sent_at"),
        lambda user: _model("privacy.PolicyNotice").objects.filter(user=user),
    ),
    Dataset(
        "privacy_requests",
        "privacy.PrivacyRequest",
        "Your privacy requests, their statuses and deadlines.",
        (
            "id",
            "request_type",
            "jurisdiction",
            "status",
            "details",
            "received_at",
            "due_date",
            "extended_due_date",
            "extension_reason",
            "closed_at",
            "closed_reason",
            "resolution",
        ),
        lambda user: _model("privacy.PrivacyRequest").objects.filter(user=user),
    ),
    Dataset(
        "privacy_processor_actions",
        "privacy.ProcessorAction",
        "Your privacy requests and account deletion as carried to each processor that "
        "holds data for us: what it was asked and how it answered.",
        (
            "privacy_request_id",
            "deletion_id",
            "processor",
            "kind",
            "state",
            "created_at",
            "sent_at",
            "received_at",
            "closed_at",
            "result",
        ),
        lambda user: _model("privacy.ProcessorAction").objects.filter(subject_user_id=user.pk),
    ),
    Dataset(
        "data_exports",
        "privacy.DataExport",
        "Exports of your data, including this one.",
        ("id", "status", "created_at", "finished_at", "expires_at", "downloaded_at"),
        lambda user: _model("privacy.DataExport").objects.filter(user=user),
    ),
    Dataset(
        "deletion_requests",
        "privacy.DeletionRequest",
        "Deletion requests for your account or workspaces.",
        ("id", "kind", "status", "requested_at", "scheduled_for", "cancelled_at"),
        lambda user: _model("privacy.DeletionRequest").objects.filter(requested_by_id=user.pk),
    ),
    Dataset(
        "audit_events",
        "accounts.AuditEvent",
        "Security and audit events you performed or that concern your account. Where "
        "someone else acted (staff, a teammate), their IP address and browser are left out.",
        (
            "occurred_at",
            "action",
            "workspace_id",
            "target_type",
            "target_id",
            "metadata",
            "ip_address",
            "user_agent",
        ),
        lambda user: _model("accounts.AuditEvent").objects.filter(
            Q(actor_id=user.pk) | Q(subject_user_id=user.pk)
        ),
        own_only={"ip_address": _own_event, "user_agent": _own_event},
    ),
    Dataset(
        "sessions",
        "usersessions.UserSession",
        "Your sign-in sessions: when, from which IP and browser.",
        ("created_at", "last_seen_at", "ip", "user_agent"),
        lambda user: _model("usersessions.UserSession").objects.filter(user=user),
    ),
    Dataset(
        "mfa_authenticators",
        "mfa.Authenticator",
        "Your multi-factor authenticators: type and dates only, never their secrets.",
        ("type", "created_at", "last_used_at"),
        lambda user: _model("mfa.Authenticator").objects.filter(user=user),
    ),
]

EXCLUDED: dict[str, str] = {
    "accounts.Invitation.token": "secret tokens are never exported",
    "accounts.OutboundEmail": (
        "copies of emails already sent to you, with one-time links; kept a few days only"
    ),
    "webhooks.WebhookEndpoint": (
        "workspace configuration (receiver URLs and signing secrets), not about you"
    ),
    "webhooks.WebhookMessage": "workspace events sent to the workspace's own receivers",
    "webhooks.WebhookAttempt": "delivery records of workspace webhooks; no personal data",
    "privacy.PrivacyRequestNote": "internal staff notes about handling a request",
    "privacy.Processor": (
        "the registry of processors (name, purpose, endpoint); no personal data; the "
        "processors your requests went to are in privacy_processor_actions"
    ),
    "privacy.ProcessorAction.identifiers": (
        "the identifiers sent to a processor are your own account id, email, workspace "
        "and key ids, exported in their own files"
    ),
    "privacy.PolicyVersion": "public documents, the same for everyone (see the policy pages)",
    "privacy.RetentionRun": "records of system jobs; no personal data",
    "accounts.AuditCheckpoint": "hashes of the whole audit log's head; no personal data",
    "apikeys.UsageWorkspaceDailyRollup": (
        "workspace totals per day and model, not tied to a key; your keys' daily totals "
        "are in usage_daily"
    ),
    "apikeys.BudgetAlert": (
        "which budget alert thresholds a workspace or key crossed each month; the emails "
        "they sent went to you, and the usage behind them is in usage_daily"
    ),
    "admin.LogEntry": "staff actions in the admin; covered by audit events about you",
    "auth.Permission": "system configuration; no personal data",
    "auth.Group": "system configuration; no personal data",
    "contenttypes.ContentType": "system configuration; no personal data",
    "sessions.Session": "opaque session storage; your sessions are in sessions.json",
    "account.EmailConfirmation": "short-lived verification tokens (secrets)",
    "django_celery_beat.PeriodicTask": "system job schedules; no personal data",
    "django_celery_beat.PeriodicTasks": "system job schedules; no personal data",
    "django_celery_beat.IntervalSchedule": "system job schedules; no personal data",
    "django_celery_beat.CrontabSchedule": "system job schedules; no personal data",
    "django_celery_beat.SolarSchedule": "system job schedules; no personal data",
    "django_celery_beat.ClockedSchedule": "system job schedules; no personal data",
}


# Files beside the tables: hook(zf=..., user=...) writes a feature's files of the person
# into the archive and returns how many. Features above this one register at start-up.
EXPORT_FILE_HOOKS: list = []


def export_register_dataset(dataset: Dataset) -> None:
    """Add a dataset of a feature above this one (call at app ready; idempotent)."""
    if all(existing.name != dataset.name for existing in DATASETS):
        DATASETS.append(dataset)


def export_register_excluded(label: str, reason: str) -> None:
    """Say why a model (or `model.field`) of a feature above this one is not exported."""
    EXCLUDED.setdefault(label, reason)


def registry_labels() -> set[str]:
    return {d.model for d in DATASETS} | {label for label in EXCLUDED if label.count(".") == 1}


# ---------------------------------------------------------------------------- writing


def _export_dir() -> Path:
    folder = Path(settings.MEDIA_ROOT) / "exports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return value


def _csv_cell(value):
    value = _plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else value


class _Columns:
    """How each column of a dataset is selected and written as JSON and as CSV.

    A million rows means ten million values, and a Python call per value is most of the
    cost; so rows are read as plain tuples, converted a column at a time, and each row
    is formatted with one `%` of a template. On PostgreSQL the database formats times,
    dates and UUIDs as the text `_plain` would give; encrypted columns are read as their
    tokens and opened here with the keyring. Other fields go through the model field's
    own converters and `_plain`. The output is byte for byte what `json.dumps` of the
    row objects and `csv.writer` would write.
    """

    def __init__(self, dataset: Dataset, *, vendor: str, user=None):
        from accounts.fields import EncryptedTextField

        model = _model(dataset.model)
        self.fields = dataset.fields
        self.selects: dict[str, object] = {}
        self.decrypt: list[tuple[int, Callable[[tuple], list]]] = []
        self.kinds: list[str] = []
        for index, name in enumerate(dataset.fields):
            field = model._meta.get_field(name)
            target = getattr(field, "target_field", None) if field.is_relation else field
            alias = f"export_col_{index}"
            kind = "text"
            if isinstance(field, EncryptedTextField):
                self.selects[alias] = Cast(name, output_field=TextField())
                self.decrypt.append((index, _token_opener(field)))
            elif vendor == "postgresql" and isinstance(target, DateTimeField):
                self.selects[alias] = _PgIsoDateTime(name)
            elif vendor == "postgresql" and isinstance(target, DateField):
                self.selects[alias] = _PgIsoDate(name)
            elif vendor == "postgresql" and isinstance(target, UUIDField):
                self.selects[alias] = Cast(name, output_field=TextField())
            else:
                self.selects[alias] = F(name)
                if isinstance(target, BooleanField):
                    kind = "bool"
                elif isinstance(target, IntegerField):
                    kind = "int"
                elif not isinstance(target, CharField | TextField):
                    kind = "other"
            if dataset.own_only and name in dataset.own_only:
                # Someone else's value never leaves the database (text columns only).
                self.selects[alias] = Case(
                    When(dataset.own_only[name](user), then=self.selects[alias]),
                    default=Value(None if field.null else ""),
                    output_field=TextField(),
                )
            # A NOT NULL column skips the per-value test for None.
            self.kinds.append(kind if field.null or kind in ("bool", "other") else kind + "!")
        keys = (json.dumps(name, ensure_ascii=False).replace("%", "%%") for name in self.fields)
        self.json_template = "{" + ", ".join(f"{key}: %s" for key in keys) + "}"
        self.csv_template = ",".join(["%s"] * len(self.fields)) + "\r\n"

    def chunks(self, queryset: QuerySet) -> Iterator[tuple[int, str, str]]:
        """Yield (rows, JSON objects without brackets, CSV lines) per batch."""
        rows = (
            queryset.order_by()
            .annotate(**self.selects)
            .values_list(*self.selects)
            .iterator(chunk_size=BATCH_SIZE)
        )
        while batch := list(islice(rows, BATCH_SIZE)):
            columns = list(zip(*batch, strict=True))
            for index, convert in self.decrypt:
                columns[index] = convert(columns[index])
            json_columns = [_JSON_COLUMN[kind](values) for kind, values in self._typed(columns)]
            csv_columns = [_CSV_COLUMN[kind](values) for kind, values in self._typed(columns)]
            if len(csv_columns) == 1:  # csv.writer quotes a row of one empty field
                csv_columns[0] = ['""' if value == "" else value for value in csv_columns[0]]
            yield (
                len(batch),
                ", ".join(map(self.json_template.__mod__, zip(*json_columns, strict=True))),
                "".join(map(self.csv_template.__mod__, zip(*csv_columns, strict=True))),
            )

    def _typed(self, columns: list) -> Iterator[tuple[str, tuple]]:
        return zip(self.kinds, columns, strict=True)


_encode_string = json.encoder.encode_basestring  # what json.dumps uses, ensure_ascii=False
_JSON_BOOL = {True: "true", False: "false", None: "null"}
_CSV_BOOL = {True: "True", False: "False", None: ""}
_CSV_SPECIAL = (",", '"', "\r", "\n")


def _json_text(values: tuple) -> list:
    if None in values:
        return ["null" if value is None else _encode_string(value) for value in values]
    return list(map(_encode_string, values))


def _json_int(values: tuple) -> tuple | list:
    if None in values:
        return ["null" if value is None else value for value in values]
    return values


def _json_other(values: tuple) -> list:
    return [json.dumps(_plain(value), ensure_ascii=False, default=str) for value in values]


def _csv_quote(value: str) -> str:
    """Quote a field as csv.writer does (excel dialect, minimal quoting)."""
    if any(special in value for special in _CSV_SPECIAL):
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_text(values) -> tuple | list:
    if None in values:
        values = ["" if value is None else value for value in values]
    joined = "\x00".join(values)
    if any(special in joined for special in _CSV_SPECIAL):
        return [_csv_quote(value) for value in values]
    return values


def _csv_int(values: tuple) -> tuple | list:
    if None in values:
        return ["" if value is None else value for value in values]
    return values


def _csv_other(values: tuple) -> tuple | list:
    return _csv_text([str(cell) for cell in map(_csv_cell, values)])


_JSON_COLUMN: dict[str, Callable] = {
    "text": _json_text,
    "text!": lambda values: list(map(_encode_string, values)),
    "int": _json_int,
    "int!": lambda values: values,
    "bool": lambda values: list(map(_JSON_BOOL.__getitem__, values)),
    "other": _json_other,
}
_CSV_COLUMN: dict[str, Callable] = {
    "text": _csv_text,
    "text!": _csv_text,
    "int": _csv_int,
    "int!": lambda values: values,
    "bool": lambda values: list(map(_CSV_BOOL.__getitem__, values)),
    "other": _csv_other,
}


class _PgIsoDateTime(Func):
    """A timestamp as `datetime.isoformat()` writes it in UTC (microseconds when set)."""

    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        "CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s THEN '' "
        "ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.US') END || '+00:00'"
    )
    output_field = TextField()


class _PgIsoDate(Func):
    """A date as `date.isoformat()` writes it."""

    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = TextField()


def _token_opener(field) -> Callable[[tuple], list]:
    """Return a column converter that decrypts the tokens of an encrypted field.

    The common case is inlined (AES-256-GCM with the keyring's keys and the field's
    associated data); anything unusual goes through the field itself, which opens the
    token or raises the DecryptionError naming the column.
    """
    from accounts.crypto import NONCE_BYTES, TOKEN_PREFIX, get_keyring

    keys = get_keyring().keys
    associated_data = field.associated_data()
    prefix = TOKEN_PREFIX + ":"
    skip = len(prefix)

    def open_token(token: str) -> str:
        try:
            if not token.startswith(prefix):
                raise ValueError("not a token")
            kid, payload = token[skip:].split(":", 1)
            raw = binascii.a2b_base64(payload.replace("-", "+").replace("_", "/"), strict_mode=True)
            return (
                keys[kid]
                .decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data)
                .decode("utf-8")
            )
        except Exception:
            return field.decrypt_token(token)

    def convert(values: tuple) -> list:
        return [None if value is None else open_token(value) for value in values]

    return convert


def _readme() -> str:
    lines = [
        "Your Console data export",
        "========================",
        "",
        "Each dataset is a JSON file (an array of objects). Tables are also given as CSV",
        "files with a header row. Times are in UTC (ISO 8601). Secrets such as passwords,",
        "API key secrets and their hashes, and MFA secrets are never included.",
        "",
        "Files:",
    ]
    for dataset in DATASETS:
        files = f"{dataset.name}.json" + (f", {dataset.name}.csv" if dataset.table else "")
        lines.append(f"- {files}: {dataset.description}")
    lines += [
        "",
        "Not included, and why:",
        *(f"- {label}: {reason}" for label, reason in sorted(EXCLUDED.items())),
        "",
    ]
    return "\n".join(lines)


class _Progress:
    """Write progress and heartbeat to the export row every few batches."""

    def __init__(self, export: DataExport):
        self.export = export
        self.done = 0
        self._since = 0

    def add(self, rows: int) -> None:
        self.done += rows
        self._since += rows
        if self._since >= BATCH_SIZE * 10:
            self.flush()

    def flush(self) -> None:
        self._since = 0
        DataExport.objects.filter(pk=self.export.pk).update(
            rows_done=self.done, heartbeat_at=timezone.now()
        )


class _BackgroundWriter:
    """Write bytes to a stream from a thread of its own.

    A ZIP entry's writes are mostly deflate, which runs without the GIL, so handing them
    to a thread lets compression of one batch overlap the formatting of the next.
    """

    def __init__(self, stream):
        self._stream = stream
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="export-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._stream.write(data)
                except BaseException as exc:  # handed to the writing thread in close()
                    self._error = exc

    def write(self, data: bytes) -> None:
        if self._error is not None:
            self.close()
        self._queue.put(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


def _write_dataset(zf: zipfile.ZipFile, dataset: Dataset, user, progress: _Progress) -> int:
    queryset = dataset.rows(user)
    fields = dataset.fields
    columns = _Columns(dataset, vendor=connections[queryset.db].vendor, user=user)
    count = 0
    # The JSON, the larger file, goes straight into the archive from a thread while the
    # CSV waits in a temporary file (one ZIP entry can be written at a time).
    with tempfile.TemporaryFile("w+b") as csv_tmp:
        csv_text = io.TextIOWrapper(csv_tmp, encoding="utf-8", newline="")
        if dataset.table:
            csv.writer(csv_text).writerow(fields)
        with zf.open(f"{dataset.name}.json", "w") as entry:
            json_out = _BackgroundWriter(entry)
            try:
                json_out.write(b"[")
                for rows, json_chunk, csv_chunk in columns.chunks(queryset):
                    json_out.write(("," if count else "").encode() + json_chunk.encode())
                    if dataset.table:
                        csv_text.write(csv_chunk)
                    count += rows
                    progress.add(rows)
                json_out.write(b"]")
            finally:
                json_out.close()
        if dataset.table:
            csv_text.flush()
            csv_tmp.seek(0)
            with zf.open(f"{dataset.name}.csv", "w") as entry:
                while block := csv_tmp.read(1 << 20):
                    entry.write(block)
        csv_text.detach()
    return count


def export_build_file(*, export: DataExport) -> Path:
    """Write the ZIP for `export` and return its path (overwrites a partial one)."""
    user = export.user
    path = _export_dir() / f"{export.pk}.zip"
    partial = path.with_suffix(".zip.partial")
    progress = _Progress(export)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("README.txt", _readme())
        for dataset in DATASETS:
            counts[dataset.name] = _write_dataset(zf, dataset, user, progress)
        for hook in EXPORT_FILE_HOOKS:
            hook(zf=zf, user=user)
        zf.writestr(
            "manifest.json",
            json.dumps(
                {
                    "export_id": str(export.pk),
                    "created_at": timezone.now().isoformat(),
                    "user_id": user.pk,
                    "rows": counts,
                },
                indent=2,
            ),
        )
    progress.flush()
    os.replace(partial, path)
    return path


# ---------------------------------------------------------------------------- services


@transaction.atomic
def export_request(*, user, privacy_request=None) -> DataExport:
    """Create an export for `user` and queue its job on commit."""
    running = DataExport.objects.filter(
        user=user, status__in=(ExportStatus.PENDING, ExportStatus.RUNNING)
    ).first()
    if running is not None:
        return running
    export = DataExport.objects.create(
        user=user, privacy_request_id=getattr(privacy_request, "pk", None)
    )
    audit_record(action="privacy.export_requested", actor=user, target=export)
    job_enqueue("privacy.tasks_export.run_export", export_id=str(export.pk))
    return export


def export_claim(*, export_id) -> DataExport | None:
    """Claim a pending export, or one whose worker stopped sending heartbeats."""
    now = timezone.now()
    claimed = DataExport.objects.filter(
        Q(status=ExportStatus.PENDING)
        | Q(status=ExportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER),
        pk=export_id,
    ).update(
        status=ExportStatus.RUNNING,
        claimed_at=now,
        heartbeat_at=now,
        rows_done=0,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return DataExport.objects.select_related("user").get(pk=export_id)


def export_run(*, export_id) -> DataExport | None:
    """Build the export if it can be claimed; harmless to run twice."""
    export = export_claim(export_id=export_id)
    if export is None:
        return None
    total = sum(dataset.rows(export.user).count() for dataset in DATASETS)
    DataExport.objects.filter(pk=export.pk).update(rows_total=total)
    try:
        path = export_build_file(export=export)
    except Exception as exc:
        DataExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, error=exc.__class__.__name__[:200]
        )
        logger.exception("Export %s failed", export.pk)
        raise
    return _export_finish(export=export, path=path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@transaction.atomic
def _export_finish(*, export: DataExport, path: Path) -> DataExport | None:
    now = timezone.now()
    updated = DataExport.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(
        status=ExportStatus.READY,
        finished_at=now,
        expires_at=now + timedelta(days=settings.EXPORT_TTL_DAYS),
        file_name=path.name,
        file_size=path.stat().st_size,
        sha256=_sha256(path),
        rows_done=F("rows_total"),
        heartbeat_at=now,
    )
    export = DataExport.objects.select_related("user").filter(pk=export.pk).first()
    if export is None:
        # The row went while the file was written (its account was deleted): the file
        # has no owner and goes too.
        _export_files_unlink(export_id=path.stem, file_name=path.name)
        return None
    if not updated:
        return export
    audit_record(action="privacy.export_ready", actor=None, subject_user=export.user, target=export)
    email_enqueue(
        to=[export.user.email],
        template="privacy/email/export_ready",
        context={"export": export, "url": f"{settings.SITE_URL}{export_download_url(export)}"},
    )
    for hook in EXPORT_READY_HOOKS:
        hook(export=export)
    return export


def exports_requeue_lost() -> int:
    """Re-queue exports whose job was lost (pending too long, or a dead worker)."""
    now = timezone.now()
    lost = DataExport.objects.filter(
        Q(status=ExportStatus.PENDING, created_at__lt=now - timedelta(minutes=2))
        | Q(status=ExportStatus.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    ).values_list("pk", flat=True)
    ids = list(lost)
    for export_id in ids:
        job_start("privacy.tasks_export.run_export", export_id=str(export_id))
    return len(ids)


def exports_expire(*, now=None) -> int:
    """Delete the files of exports past their expiry and mark them expired."""
    now = now or timezone.now()
    expired = 0
    for export in DataExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now):
        _export_files_unlink(export_id=export.pk, file_name=export.file_name)
        expired += DataExport.objects.filter(pk=export.pk, status=ExportStatus.READY).update(
            status=ExportStatus.EXPIRED, file_name=""
        )
    return expired


def _export_files_unlink(*, export_id, file_name: str = "") -> None:
    """Delete every file an export may have on disk (finished or partial)."""
    folder = _export_dir()
    names = {f"{export_id}.zip", f"{export_id}.zip.partial"}
    if file_name:
        names.add(file_name)
    for name in names:
        (folder / name).unlink(missing_ok=True)


def exports_delete_for_account(
    *, user_id: int, limit: int, **_: object
) -> tuple[dict[str, int], bool]:
    """Delete up to `limit` of an account's exports, each file before its row.

    A deletion step (see privacy.apps): the files go first, then the rows in the
    caller's transaction. If that transaction is lost, the rows are still there and the
    next run deletes them again (a missing file is no error). Return the counts and
    whether nothing is left.
    """
    rows = list(
        DataExport.objects.filter(user_id=user_id)
        .order_by("pk")
        .values_list("pk", "file_name")[:limit]
    )
    if not rows:
        return {}, True
    for export_id, file_name in rows:
        _export_files_unlink(export_id=export_id, file_name=file_name)
    _, per_model = DataExport.objects.filter(pk__in=[pk for pk, _ in rows]).delete()
    counts = dict(per_model)
    counts["privacy.DataExport (files)"] = len(rows)
    return counts, len(rows) < limit


def _owned(name: str, rows: dict) -> bool:
    export_id = _as_uuid(name.split(".", 1)[0])
    row = rows.get(export_id)
    if row is None:
        return False
    status, file_name = row
    if status in (ExportStatus.PENDING, ExportStatus.RUNNING):
        # Being written; the finished ZIP is in place a moment before the row says so.
        return name in (f"{export_id}.zip", f"{export_id}.zip.partial")
    return status == ExportStatus.READY and name == file_name


def exports_sweep_orphans(*, now=None, min_age: timedelta | None = None) -> int:
    """Delete files in the export folder that no export row owns; return how many.

    A file is owned by the row it is named after while that export is being built, and
    by a ready export whose file it is. Files younger than `min_age`
    (EXPORT_ORPHAN_MIN_AGE_MINUTES) are left alone, so a file being written, or whose
    row is not committed yet, is never swept.
    """
    now = now or timezone.now()
    if min_age is None:
        min_age = timedelta(minutes=int(getattr(settings, "EXPORT_ORPHAN_MIN_AGE_MINUTES", 60)))
    cutoff = (now - min_age).timestamp()
    folder = _export_dir()
    swept = 0
    with os.scandir(folder) as entries:
        while batch := list(islice(entries, 1000)):
            old = [
                entry.name
                for entry in batch
                if not entry.is_dir(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_mtime < cutoff
            ]
            ids = {_as_uuid(name.split(".", 1)[0]) for name in old} - {None}
            rows = {
                str(pk): (status, file_name)
                for pk, status, file_name in DataExport.objects.filter(pk__in=ids).values_list(
                    "pk", "status", "file_name"
                )
            }
            for name in old:
                if not _owned(name, rows):
                    (folder / name).unlink(missing_ok=True)
                    logger.info("Deleted export file %s: no export owns it.", name)
                    swept += 1
    return swept


def _as_uuid(value: str) -> str | None:
    try:
        return str(UUID(value))
    except ValueError:
        return None


# ---------------------------------------------------------------------------- download


def export_for_download(
    *, token: str | None = None, export_id=None, user
) -> tuple[DataExport, Path]:
    """Return the owner's ready export and its file; everything else is NotFound."""
    if token is not None:
        export_id = export_id_from_token(token)
        if export_id is None:
            raise NotFound()
    export = DataExport.objects.filter(pk=export_id, user_id=user.pk).first()
    if export is None:
        raise NotFound()
    if export.status != ExportStatus.READY or not export.file_name:
        raise Conflict("This export is not available.", code="not_ready")
    if export.expires_at and export.expires_at <= timezone.now():
        raise NotFound()
    path = _export_dir() / export.file_name
    if not path.exists():
        raise NotFound()
    DataExport.objects.filter(pk=export.pk).update(downloaded_at=timezone.now())
    return export, path

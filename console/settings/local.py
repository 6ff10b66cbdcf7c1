"""The embedded default for `make run`: SQLite, console email, and a broker that needs no
server (kombu's filesystem transport) unless REDIS_URL is set.

Web, worker and beat are separate processes that share the SQLite file and the broker
folder; both paths are absolute, so every process finds the same ones whatever its
working directory.
"""

import base64
import os
from pathlib import Path

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, REDIS_URL, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-development-only-not-secret")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

# Development-only keys so that `make run` works out of the box; production refuses them.
ENCRYPTION_KEYS = env(
    "ENCRYPTION_KEYS", default="dev1:ZGV2ZWxvcG1lbnQta2V5LW5vdC1wcm9kdWN0aW9uISE="
)
API_KEY_PEPPERS = env("API_KEY_PEPPERS", default="p1:bG9jYWwtZGV2ZWxvcG1lbnQtcGVwcGVyLW9ubHktISE=")
GATEWAY_TOKENS = env.list("GATEWAY_TOKENS", default=["local-gateway-token"])


def _local_audit_chain_key() -> str:
    """Return this checkout's audit chain key, generated on first use under var/.

    Web, worker and beat must chain with the same key, so it is kept in a file they all
    read rather than drawn afresh by each process; var/ is never committed.
    """
    path = BASE_DIR / "var" / "audit-chain.key"
    if not path.exists():
        os.makedirs(path.parent, exist_ok=True)
        # Written aside, then linked into place: a process starting alongside sees either
        # no file or the whole key, and only the first link wins.
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write("dev1:" + base64.b64encode(os.urandom(32)).decode() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


AUDIT_CHAIN_KEYS = env("AUDIT_CHAIN_KEYS", default="") or _local_audit_chain_key()

# The console email backend prints to stdout; keep Celery from turning the worker's
# stdout into log records so mail sent by tasks reads the same as mail sent by the web.
CELERY_WORKER_REDIRECT_STDOUTS = False

if not REDIS_URL and not env("CELERY_BROKER_URL", default=""):
    # BROKER_DIR lets tests (and several checkouts on one machine) keep separate queues.
    BROKER_DIR = Path(env("BROKER_DIR", default=str(BASE_DIR / "var" / "broker"))).resolve()
    for sub in ("queue", "processed", "control"):
        os.makedirs(BROKER_DIR / sub, exist_ok=True)
    # The host part means nothing to this transport; naming one keeps kombu from warning.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Producers write where consumers read: one folder is the queue.
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    # Remote control and events need a broadcast-capable broker; the worker runs with
    # --without-gossip --without-mingle --without-heartbeat as well (deploy/run-local.sh).
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False

if not env("DATABASE_URL", default=""):
    # Local state lives under var/ (ignored by git), next to the broker folder; SQLite's
    # WAL and shared-memory files appear beside the database while it is open.
    DATABASES["default"] = env.db_url_config(f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")
    os.makedirs(BASE_DIR / "var", exist_ok=True)

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # SQLite has a single writer shared by web, worker and beat. WAL lets readers carry
    # on while one process writes; IMMEDIATE takes the write lock when a transaction
    # begins, so two transactions never deadlock upgrading read locks (which SQLite
    # reports at once as "database is locked", ignoring the timeout); the timeout makes
    # the others wait their turn instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

#!/usr/bin/env bash
# The console on one machine, for `make run`: migrate, seed the demo workspace, then a
# Celery worker and beat in the background and the web server in front of them.
#
# Stopping the script (Ctrl-C, `kill <pid>`, or the web server exiting) stops exactly
# the worker, beat and web processes it started, and nothing else.
#
# Environment:
#   DJANGO_SETTINGS_MODULE  default console.settings.local (SQLite, filesystem broker)
#   HOST, PORT              where the web server listens; default 127.0.0.1:8000
#   PY                      the Python to use; default .venv/bin/python
#   REDIS_URL               use Redis for the cache and broker instead of the folder
#   DATABASE_URL            use that database instead of db.sqlite3
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-console.settings.local}
# Mail printed by the console backend shows up at once, in order with the logs.
export PYTHONUNBUFFERED=1

"$PY" manage.py migrate --noinput
# With DEBUG on, runserver and whitenoise serve static files straight from the sources.
if ! "$PY" -c 'import django; django.setup()
from django.conf import settings
raise SystemExit(0 if settings.DEBUG else 1)'; then
  "$PY" manage.py collectstatic --noinput --verbosity 0
fi
"$PY" manage.py demo_setup

# Each background job gets its own process group (job control), so stopping one also
# stops what it spawned (runserver's autoreloader child) and Ctrl-C reaches only us.
set -m
pids=()

stop_all() {
  trap - EXIT INT TERM
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  # Give a running task a moment to finish (warm shutdown), then insist.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    local alive=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ "$alive" = 0 ] && return 0
    sleep 1
  done
  for pid in "${pids[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One process, one task at a time: SQLite has a single writer, and the filesystem
# broker has no broadcast for gossip, mingle or heartbeats. Without --queues it
# consumes every queue of CELERY_TASK_QUEUES (email, email-bulk, usage, privacy-long,
# webhooks, default); production runs a worker per queue (deploy/compose.yaml).
"$PY" -m celery -A console worker --pool=solo --loglevel=INFO \
  --without-gossip --without-mingle --without-heartbeat &
pids+=("$!")
"$PY" -m celery -A console beat --loglevel=INFO \
  --scheduler django_celery_beat.schedulers:DatabaseScheduler &
pids+=("$!")

echo "Console: http://$HOST:$PORT/  (Ctrl-C stops web, worker and beat)"
"$PY" manage.py runserver "$HOST:$PORT" &
web=$!
pids+=("$web")
# `wait` returns as soon as a trapped signal arrives, unlike a foreground command.
wait "$web"

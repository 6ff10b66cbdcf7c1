"""Sizing bulk batches by time, shared by the deletion job and the retention run.

Both walk large tables in batches that must each be one short transaction. Rather than
a fixed number of rows, a batch is sized from the last one so that it takes about a
target time: fast batches grow (fewer commits), slow ones shrink. A statement timeout
set inside the batch is the hard limit; a batch cancelled by it is retried smaller.
"""

from __future__ import annotations

from django.db import OperationalError
from psycopg.errors import QueryCanceled

GROW_AT_MOST = 2.0
SHRINK_AT_MOST = 0.25
SHRINK_AFTER_TIMEOUT = 0.25


def batch_scale(
    *, elapsed_ms: float, target_ms: float, count: int = 0, max_count: int | None = None
) -> float:
    """Return the factor for the next batch's size after one took `elapsed_ms`."""
    scale = target_ms / max(elapsed_ms, 0.5)
    if count and max_count:
        scale = min(scale, max_count / count)
    return min(GROW_AT_MOST, max(SHRINK_AT_MOST, scale))


def cancelled_by_timeout(exc: OperationalError) -> bool:
    """True when the statement was cancelled by `statement_timeout` (not a lost server)."""
    return isinstance(exc.__cause__, QueryCanceled)

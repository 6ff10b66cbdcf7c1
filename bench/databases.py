"""A throwaway PostgreSQL database per benchmark, on the server of DATABASE_URL."""

import os
from urllib.parse import urlsplit, urlunsplit


def database_urls(name: str) -> tuple[str, str]:
    """Return (maintenance URL, benchmark URL) on the server of DATABASE_URL."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/console")
    parts = urlsplit(base)
    return (
        urlunsplit(parts._replace(path="/postgres")),
        urlunsplit(parts._replace(path=f"/{name}")),
    )


def recreate_database(maintenance_url: str, name: str, *, drop_only: bool = False) -> None:
    """Drop the benchmark database (closing its connections) and create it afresh."""
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')

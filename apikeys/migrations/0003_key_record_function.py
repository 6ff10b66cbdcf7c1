"""A PostgreSQL function for verify's cold lookup.

A PL/pgSQL function keeps its query plan for the life of the database session, so a
cold lookup no longer plans a four-table query on every call; it also works through
connection poolers, unlike prepared statements. Other databases (the embedded SQLite)
use the ORM instead.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION apikeys_key_record(p_public_id text, p_owner_role text)
RETURNS TABLE (
  id bigint, workspace_id text, environment text, scopes text,
  secret_hash text, pepper_id text, previous_secret_hash text, previous_pepper_id text,
  previous_expires float8, expires float8, revoked boolean, allowed_ips text,
  max_tokens bigint, rpm bigint, tpm bigint, budget bigint,
  zero_data_retention boolean, training_opt_out boolean
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
  SELECT k.id::bigint, k.workspace_id::text, k.environment::text, k.scopes::text,
    k.secret_hash::text, k.pepper_id::text, k.previous_secret_hash::text,
    k.previous_pepper_id::text,
    extract(epoch FROM k.previous_secret_expires_at)::float8,
    extract(epoch FROM k.expires_at)::float8,
    (k.revoked_at IS NOT NULL OR k.deleted_at IS NOT NULL OR w.deleted_at IS NOT NULL),
    k.allowed_ips::text, k.max_tokens_per_request::bigint,
    k.requests_per_minute::bigint, k.tokens_per_minute::bigint,
    k.monthly_token_budget::bigint, w.zero_data_retention,
    (w.training_opt_out OR EXISTS (
      SELECT 1 FROM accounts_membership m
      JOIN privacy_privacysettings p ON p.user_id = m.user_id
      WHERE m.workspace_id = k.workspace_id AND m.role = p_owner_role
        AND p.training_opt_out
    ))
  FROM apikeys_apikey k
  JOIN accounts_workspace w ON w.id = k.workspace_id
  WHERE k.public_id = p_public_id;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS apikeys_key_record(text, text);"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0002_usage_occurred_at_index"),
        ("accounts", "0001_initial"),
        ("privacy", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]

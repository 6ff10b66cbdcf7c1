"""A key's generation in its database row, and verify's lookup returning it.

The generation is raised in the same transaction as every change verify must see;
Redis holds only a copy. On PostgreSQL a trigger keeps it from ever going down (a
stale full save of an old instance cannot lower it), and verify's lookup function
returns it with the record.
"""

from django.db import migrations, models

import importlib

_previous = importlib.import_module("apikeys.migrations.0003_key_record_function")

CREATE = """
DROP FUNCTION IF EXISTS apikeys_key_record(text, text);
CREATE FUNCTION apikeys_key_record(p_public_id text, p_owner_role text)
RETURNS TABLE (
  id bigint, workspace_id text, environment text, scopes text,
  secret_hash text, pepper_id text, previous_secret_hash text, previous_pepper_id text,
  previous_expires float8, expires float8, revoked boolean, allowed_ips text,
  max_tokens bigint, rpm bigint, tpm bigint, budget bigint,
  zero_data_retention boolean, training_opt_out boolean, generation bigint
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
    )),
    k.generation::bigint
  FROM apikeys_apikey k
  JOIN accounts_workspace w ON w.id = k.workspace_id
  WHERE k.public_id = p_public_id;
END
$$;

CREATE FUNCTION apikeys_generation_never_down() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.generation < OLD.generation THEN
    NEW.generation := OLD.generation;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER apikeys_generation_never_down BEFORE UPDATE ON apikeys_apikey
FOR EACH ROW EXECUTE FUNCTION apikeys_generation_never_down();
"""
DROP = """
DROP TRIGGER IF EXISTS apikeys_generation_never_down ON apikeys_apikey;
DROP FUNCTION IF EXISTS apikeys_generation_never_down();
DROP FUNCTION IF EXISTS apikeys_key_record(text, text);
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)
        schema_editor.execute(_previous.CREATE)


class Migration(migrations.Migration):
    dependencies = [
        ("apikeys", "0003_key_record_function"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="generation",
            field=models.PositiveBigIntegerField(default=1, editable=False),
        ),
        migrations.RunPython(create, drop),
    ]

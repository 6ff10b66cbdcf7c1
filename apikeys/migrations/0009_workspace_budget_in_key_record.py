"""Budget alert thresholds per key, and verify's lookup returning the workspace budget.

The workspace's monthly token budget travels with every key record, so verify can
enforce it on the workspace's own counter; a change to it raises the generation of
every key of the workspace (workspace settings hook).
"""

import importlib

from django.db import migrations, models

import accounts.models

_previous = importlib.import_module("apikeys.migrations.0004_key_generation")

CREATE = """
DROP FUNCTION IF EXISTS apikeys_key_record(text, text);
CREATE FUNCTION apikeys_key_record(p_public_id text, p_owner_role text)
RETURNS TABLE (
  id bigint, workspace_id text, environment text, scopes text,
  secret_hash text, pepper_id text, previous_secret_hash text, previous_pepper_id text,
  previous_expires float8, expires float8, revoked boolean, allowed_ips text,
  max_tokens bigint, rpm bigint, tpm bigint, budget bigint,
  zero_data_retention boolean, training_opt_out boolean, generation bigint,
  workspace_budget bigint
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
    k.generation::bigint,
    w.monthly_token_budget::bigint
  FROM apikeys_apikey k
  JOIN accounts_workspace w ON w.id = k.workspace_id
  WHERE k.public_id = p_public_id;
END
$$;
"""
# The previous function, as 0004 created it (without its trigger, which stays).
_PREVIOUS = _previous.CREATE.split("CREATE FUNCTION apikeys_generation_never_down")[0]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_PREVIOUS)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_workspace_budget"),
        ("apikeys", "0008_apikey_workspace_name_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="budget_alert_thresholds",
            field=models.JSONField(default=accounts.models.budget_alert_thresholds_default),
        ),
        migrations.RunPython(create, drop),
    ]

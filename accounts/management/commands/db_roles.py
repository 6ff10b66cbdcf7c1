"""Create the application's database role: normal DML, but the audit log only grows.

Run as the owner role (the one that runs migrations), after every `migrate`: new tables
get their grants, and the audit tables lose any UPDATE or DELETE a broad grant gave.
"""

import re

import environ
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

# Tables whose rows are never changed by the application: it may add and read them only.
AUDIT_TABLES = ("accounts_auditevent", "accounts_auditcheckpoint")
# Personal data the account deletion erases (to NULL or ''); the triggers allow nothing else.
AUDIT_ERASABLE_COLUMNS = ("actor_email", "ip_address", "user_agent")
_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def db_roles_sql(*, role: str, database: str, quote) -> list[str]:
    """Return the statements that create `role` and give it its grants (idempotent)."""
    r, db = quote(role), quote(database)
    audit = ", ".join(quote(t) for t in AUDIT_TABLES)
    erasable = ", ".join(quote(c) for c in AUDIT_ERASABLE_COLUMNS)
    return [
        # `role` matched _ROLE_RE, so it is safe inside the literal.
        "DO $$ BEGIN "  # noqa: S608
        f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN "
        f"CREATE ROLE {r} LOGIN; END IF; END $$",
        # Nothing that could switch a trigger off or read around a grant.
        f"ALTER ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS",
        f"GRANT CONNECT ON DATABASE {db} TO {r}",
        f"GRANT USAGE ON SCHEMA public TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {r}",
        # Revoking the table's UPDATE also revokes column grants, so grant those after.
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {audit} FROM {r}",
        f"GRANT UPDATE ({erasable}) ON {quote(AUDIT_TABLES[0])} TO {r}",
        # The usage table's partitions (PostgreSQL with pg_partman, migration apikeys
        # 0007): list them, and create and drop them only through the owner's functions.
        "DO $$ BEGIN "
        "IF to_regnamespace('partman') IS NOT NULL THEN "
        f"GRANT USAGE ON SCHEMA partman TO {r}; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA partman TO {r}; END IF; "
        "IF to_regprocedure('apikeys_usage_partitions_maintain()') IS NOT NULL THEN "
        f"GRANT EXECUTE ON FUNCTION apikeys_usage_partitions_maintain() TO {r}; "
        "GRANT EXECUTE ON FUNCTION apikeys_usage_partition_drop(text, integer) "
        f"TO {r}; END IF; END $$",
    ]


class Command(BaseCommand):
    help = (
        "Create or update the application's database role (web, worker, beat): SELECT, "
        "INSERT, UPDATE, DELETE on the console's tables, but only INSERT and SELECT on "
        "the audit tables (UPDATE only of the erasable personal columns). It does not own "
        "the tables, so it can neither disable nor drop their triggers, nor use their "
        "escape hatches. Run as the owner role after every migrate. The role and its "
        "password come from APP_DATABASE_URL (or --role)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--role", help="Role name (default: the user of APP_DATABASE_URL).")
        parser.add_argument(
            "--sql",
            action="store_true",
            help="Print the SQL instead of running it (the password is never printed).",
        )

    def handle(self, *args, role=None, sql=False, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles exist only on PostgreSQL.")
        env = environ.Env()
        app_url = env("APP_DATABASE_URL", default="")
        password = None
        if app_url:
            config = env.db_url_config(app_url)
            role = role or config.get("USER")
            password = config.get("PASSWORD") or None
        if not role:
            raise CommandError("Name the role with --role or APP_DATABASE_URL.")
        if not _ROLE_RE.match(role):
            raise CommandError("The role name must be lower-case letters, digits and '_'.")
        database = connection.settings_dict["NAME"]
        statements = db_roles_sql(role=role, database=database, quote=connection.ops.quote_name)
        if sql:
            self.stdout.write(";\n".join(statements) + ";")
            self.stdout.write(f"-- then: ALTER ROLE {role} PASSWORD '...';")
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            if cursor.fetchone()[0] == role:
                raise CommandError(
                    f"Connected as {role!r}: run this as the owner role, for another role."
                )
            for statement in statements:
                cursor.execute(statement)
            if password:
                cursor.execute(
                    f"ALTER ROLE {connection.ops.quote_name(role)} PASSWORD %s", [password]
                )
            cursor.execute(
                "SELECT pg_has_role(%s, tableowner, 'MEMBER') FROM pg_tables WHERE tablename = %s",
                [role, AUDIT_TABLES[0]],
            )
            row = cursor.fetchone()
            if row and row[0]:
                raise CommandError(
                    f"{role!r} is a member of the role that owns the audit tables: it could "
                    "disable their triggers. Use a role of its own."
                )
        self.stdout.write(f"Role {role!r} has the application's grants on {database!r}.")

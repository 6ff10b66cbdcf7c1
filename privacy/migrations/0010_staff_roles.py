"""Seed the staff roles: the groups "Support", "Privacy" and "Security", each with what
its job needs (docs/security.md, "Staff roles").

Groups are found or created by name and only the permissions listed here are added
(or, for Support, the one listed as moved away removed): other features grant their
own models' permissions to the same groups in their own migrations, and those stay.
"""

from django.db import migrations

ROLES = {
    "Support": [
        # Accounts and workspaces; deactivate and reactivate customers, revoke invitations.
        ("accounts", "user", "view_user"),
        ("accounts", "user", "change_user"),
        ("accounts", "workspace", "view_workspace"),
        ("accounts", "membership", "view_membership"),
        ("accounts", "invitation", "view_invitation"),
        ("accounts", "invitation", "change_invitation"),
        ("account", "emailaddress", "view_emailaddress"),
        # Key metadata and usage, read-only.
        ("apikeys", "apikey", "view_apikey"),
        ("apikeys", "usagerecord", "view_usagerecord"),
        ("apikeys", "usagedailyrollup", "view_usagedailyrollup"),
    ],
    "Privacy": [
        ("privacy", "privacyrequest", "view_privacyrequest"),
        ("privacy", "privacyrequest", "change_privacyrequest"),
        ("privacy", "deletionrequest", "view_deletionrequest"),
        ("privacy", "retentionrun", "view_retentionrun"),
        ("privacy", "consentrecord", "view_consentrecord"),
        ("privacy", "policyversion", "view_policyversion"),
        ("privacy", "policyversion", "add_policyversion"),
        ("privacy", "policyversion", "change_policyversion"),
        ("privacy", "policynotice", "view_policynotice"),
        ("privacy", "policyacceptance", "view_policyacceptance"),
    ],
    "Security": [
        ("accounts", "auditevent", "view_auditevent"),
        ("accounts", "user", "view_user"),
        ("accounts", "user", "end_sessions"),
        ("usersessions", "usersession", "view_usersession"),
        # Revoke keys and file leaked-key reports (the admin actions behind the change
        # permission).
        ("apikeys", "apikey", "view_apikey"),
        ("apikeys", "apikey", "change_apikey"),
    ],
}
# The audit log is the Security role's; Support had it before the roles were split.
MOVED_AWAY = {"Support": [("accounts", "auditevent", "view_auditevent")]}

APPS_WITH_PERMISSIONS = ("accounts", "account", "usersessions", "apikeys", "privacy")


def _ensure_permissions(apps, using):
    # Permissions are normally created after all migrations run (post_migrate); on a
    # fresh database they do not exist yet, so create those the roles need now.
    from django.contrib.auth.management import create_permissions

    for label in APPS_WITH_PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        try:
            create_permissions(app_config, verbosity=0, using=using, apps=apps)
        finally:
            app_config.models_module = None


def _permission(apps, using, app_label, model, codename):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.using(using).get(
        content_type__app_label=app_label, content_type__model=model, codename=codename
    )


def _group(apps, using, name):
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.using(using).get_or_create(name=name)
    return group


def seed_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    for name, permissions in ROLES.items():
        group = _group(apps, using, name)
        group.permissions.add(*(_permission(apps, using, *p) for p in permissions))
    for name, permissions in MOVED_AWAY.items():
        group = _group(apps, using, name)
        group.permissions.remove(*(_permission(apps, using, *p) for p in permissions))


def unseed_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for name, permissions in MOVED_AWAY.items():
        group = _group(apps, using, name)
        group.permissions.add(*(_permission(apps, using, *p) for p in permissions))
    previous_support = {
        ("accounts", "user", "view_user"),
        ("accounts", "user", "change_user"),
        ("accounts", "workspace", "view_workspace"),
        ("accounts", "membership", "view_membership"),
        ("accounts", "invitation", "view_invitation"),
        ("accounts", "invitation", "change_invitation"),
    }
    for name, permissions in ROLES.items():
        group = Group.objects.using(using).filter(name=name).first()
        if group is None:
            continue
        keep = previous_support if name == "Support" else set()
        group.permissions.remove(
            *(_permission(apps, using, *p) for p in permissions if p not in keep)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0009_policy_notice_sent_when_delivered"),
        ("accounts", "0009_user_end_sessions_permission"),
        ("apikeys", "0004_key_generation"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("usersessions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed_roles, unseed_roles)]

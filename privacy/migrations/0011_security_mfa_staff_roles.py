"""The Security role may remove a customer's lost second factor (docs/security.md,
"Staff roles"); the permission is new in accounts 0010."""

from importlib import import_module

from django.db import migrations

ROLES = {"Security": [("accounts", "user", "remove_mfa")]}

_roles = import_module("privacy.migrations.0010_staff_roles")


def seed_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    _roles._ensure_permissions(apps, using)
    for name, permissions in ROLES.items():
        group = _roles._group(apps, using, name)
        group.permissions.add(*(_roles._permission(apps, using, *p) for p in permissions))


def unseed_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for name, permissions in ROLES.items():
        group = Group.objects.using(using).filter(name=name).first()
        if group is not None:
            group.permissions.remove(*(_roles._permission(apps, using, *p) for p in permissions))


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0010_staff_roles"),
        ("accounts", "0010_user_remove_mfa_permission"),
    ]

    operations = [migrations.RunPython(seed_roles, unseed_roles)]

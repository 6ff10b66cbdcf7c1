"""Create the "Support" group: view identity, tenancy and audit; deactivate accounts and
revoke invitations (the admin actions behind the two change permissions)."""

from django.db import migrations

GROUP_NAME = "Support"
PERMISSIONS = [
    ("accounts", "user", "view_user"),
    ("accounts", "user", "change_user"),
    ("accounts", "workspace", "view_workspace"),
    ("accounts", "membership", "view_membership"),
    ("accounts", "invitation", "view_invitation"),
    ("accounts", "invitation", "change_invitation"),
    ("accounts", "auditevent", "view_auditevent"),
]


def _ensure_permissions(apps, using):
    # Permissions are normally created after all migrations run (post_migrate); on a
    # fresh database they do not exist yet, so create this app's now.
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("accounts")
    app_config.models_module = True
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = None


def create_group(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP_NAME)
    for app_label, model, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.using(using).get(
                content_type__app_label=app_label,
                content_type__model=model,
                codename=codename,
            )
        )


def delete_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_audit_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]

"""Let the "Support" staff group work the support queue: see requests, their messages and
attachments, and act on them (reply, note, assign, change status: the change permission).
The group is created here when it does not exist yet."""

from django.db import migrations

GROUP_NAME = "Support"
PERMISSIONS = [
    ("supportrequest", "view_supportrequest"),
    ("supportrequest", "change_supportrequest"),
    ("supportmessage", "view_supportmessage"),
    ("supportattachment", "view_supportattachment"),
]


def _ensure_permissions(apps, using):
    # Permissions are normally created after all migrations run (post_migrate); on a
    # fresh database they do not exist yet, so create this app's now.
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("support")
    app_config.models_module = True
    try:
        create_permissions(app_config, verbosity=0, using=using, apps=apps)
    finally:
        app_config.models_module = None


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(using).get_or_create(name=GROUP_NAME)
    for model, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.using(using).get(
                content_type__app_label="support", content_type__model=model, codename=codename
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    using = schema_editor.connection.alias
    group = Group.objects.using(using).filter(name=GROUP_NAME).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.using(using).filter(
                content_type__app_label="support", codename__in=[c for _, c in PERMISSIONS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

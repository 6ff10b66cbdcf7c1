"""Let the "Privacy" staff group keep the processor registry and settle processors'
actions: see, add and change processors (rotating their secret and token is a change),
see actions and override them (the change permission)."""

from django.db import migrations

GROUP_NAME = "Privacy"
PERMISSIONS = [
    ("processor", "view_processor"),
    ("processor", "add_processor"),
    ("processor", "change_processor"),
    ("processoraction", "view_processoraction"),
    ("processoraction", "change_processoraction"),
]


def _ensure_permissions(apps, using):
    # Permissions are normally created after all migrations run (post_migrate); on a
    # fresh database they do not exist yet, so create this app's now.
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("privacy")
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
                content_type__app_label="privacy", content_type__model=model, codename=codename
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
                content_type__app_label="privacy", codename__in=[c for _, c in PERMISSIONS]
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("privacy", "0012_processors"),
        ("privacy", "0010_staff_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]

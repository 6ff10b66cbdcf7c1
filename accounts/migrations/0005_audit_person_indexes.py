"""Index a person's audit events in id order, as actor and as subject.

Erasing a person's data walks their events in batches by id; (actor_id, id) and
(subject_user_id, id) make each batch two short index range scans. They also serve
every lookup the single-column indexes served, so those are dropped after the new ones
exist.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_audit_fillfactor"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_id", "id"], name="accounts_au_actor_i_d71354_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["subject_user_id", "id"], name="accounts_au_subject_63eae3_idx"
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="actor_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="subject_user_id",
            field=models.BigIntegerField(
                blank=True, help_text="The account the event is about.", null=True
            ),
        ),
    ]

"""Key the audit chain, keep checkpoints of its head, encrypt the actor's email.

Adding a column with a default and changing a column's type rewrite no row through
UPDATE, so the append-only triggers stay in place throughout.
"""

import accounts.fields
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_audit_person_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditCheckpoint',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('last_event_id', models.BigIntegerField(help_text='The newest event covered (0: none).')),
                ('event_count', models.BigIntegerField(help_text='Events up to and including it.')),
                ('head_hash', models.CharField(max_length=64)),
                ('key_id', models.CharField(max_length=32)),
                ('prev_seal', models.CharField(max_length=64)),
                ('seal', models.CharField(max_length=64, unique=True)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.AddField(
            model_name='auditevent',
            name='chain_key_id',
            # Events chained before this migration were hashed without a key.
            field=models.CharField(default='legacy', help_text='Id of the AUDIT_CHAIN_KEYS key this event was chained with.', max_length=32),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='actor_email',
            field=accounts.fields.EncryptedTextField(blank=True, null=True),
        ),
    ]

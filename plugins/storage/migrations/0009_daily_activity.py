from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

from otvet.plugins.storage import activity


async def count_stored_activity(apps, schema_editor):
    # The overview reads these counts: start them from what is already stored.
    await activity.backfill(schema_editor.client)

class Migration(migrations.Migration):
    dependencies = [('otvet', '0008_shared_send_slots')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Activity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.CharField(max_length=10)),
                ('channel', fields.CharField(max_length=32)),
                ('provider', fields.CharField(default='', max_length=64)),
                ('model', fields.CharField(default='', max_length=128)),
                ('answered', fields.IntField(default=0)),
                ('unknown', fields.IntField(default=0)),
                ('failed', fields.IntField(default=0)),
                ('refused', fields.IntField(default=0)),
                ('thumbs_up', fields.IntField(default=0)),
                ('thumbs_down', fields.IntField(default=0)),
                ('prompt_tokens', fields.BigIntField(default=0)),
                ('completion_tokens', fields.BigIntField(default=0)),
            ],
            options={'table': 'otvet_activity', 'app': 'otvet', 'unique_together': (('day', 'channel', 'provider', 'model'),), 'pk_attr': 'id', 'table_description': 'Daily counts of questions, answers, tokens and ratings'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnswerTimes',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('day', fields.CharField(max_length=10)),
                ('channel', fields.CharField(max_length=32)),
                ('bucket_ms', fields.IntField()),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'otvet_answer_times', 'app': 'otvet', 'unique_together': (('day', 'channel', 'bucket_ms'),), 'pk_attr': 'id', 'table_description': 'Daily counts of answers by answer time'},
            bases=['Model'],
        ),
        ops.AddIndex(
            model_name='Chunk',
            index=Index(fields=['source_name', 'version_id', 'position']),
        ),
        ops.RunPython(count_stored_activity, ops.RunPython.noop),
    ]

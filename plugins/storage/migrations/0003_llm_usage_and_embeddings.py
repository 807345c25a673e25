from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('otvet', '0002_feedback_once_per_user')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Chunk',
            name='embedding',
            field=fields.BinaryField(null=True),
        ),
        ops.AddField(
            model_name='KnowledgeVersion',
            name='embedder',
            field=fields.CharField(null=True, max_length=200),
        ),
        ops.AddField(
            model_name='Message',
            name='user',
            field=fields.ForeignKeyField('otvet.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['user_id', 'created_at']),
        ),
        ops.AddIndex(
            model_name='Message',
            index=Index(fields=['created_at']),
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='AdminAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=150)),
                ('password_hash', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('disabled', fields.BooleanField(default=False)),
            ],
            options={'table': 'otvet_admin_account', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'Admin accounts'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=150)),
                ('prefix', fields.CharField(unique=True, max_length=32)),
                ('key_hash', fields.CharField(max_length=255)),
                ('scopes', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'otvet_api_key', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'API keys (hashed)'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('type', fields.CharField(max_length=64)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('progress', fields.FloatField(default=0.0)),
                ('error', fields.TextField(null=True, unique=False)),
                ('attempts', fields.IntField(default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('locked_by', fields.CharField(null=True, max_length=255)),
            ],
            options={'table': 'otvet_job', 'app': 'otvet', 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Background jobs'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KnowledgeVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('status', fields.CharField(default='building', max_length=16)),
                ('chunk_count', fields.IntField(default=0)),
                ('source_count', fields.IntField(default=0)),
                ('note', fields.TextField(default='', unique=False)),
                ('metrics', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('activated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'otvet_knowledge_version', 'app': 'otvet', 'indexes': [Index(fields=['status'])], 'pk_attr': 'id', 'table_description': 'Knowledge versions'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Source',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=512)),
                ('type', fields.CharField(max_length=32)),
                ('title', fields.TextField(unique=False)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('checksum', fields.CharField(max_length=128)),
                ('content', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'otvet_source', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'Training sources with their parsed content'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Chunk',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('version', fields.ForeignKeyField('otvet.KnowledgeVersion', source_field='version_id', db_constraint=True, to_field='id', related_name='chunks', on_delete=OnDelete.CASCADE)),
                ('source', fields.ForeignKeyField('otvet.Source', source_field='source_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='chunks', on_delete=OnDelete.SET_NULL)),
                ('source_name', fields.CharField(max_length=512)),
                ('source_title', fields.TextField(unique=False)),
                ('position', fields.IntField()),
                ('kind', fields.CharField(default='text', max_length=8)),
                ('text', fields.TextField(unique=False)),
                ('question', fields.TextField(null=True, unique=False)),
                ('title', fields.TextField(default='', unique=False)),
                ('language', fields.CharField(null=True, max_length=16)),
            ],
            options={'table': 'otvet_chunk', 'app': 'otvet', 'indexes': [Index(fields=['version_id', 'id'])], 'pk_attr': 'id', 'table_description': 'Searchable chunks of knowledge versions'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=32)),
                ('external_id', fields.CharField(max_length=255)),
                ('display_name', fields.TextField(null=True, unique=False)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'otvet_user', 'app': 'otvet', 'unique_together': (('channel', 'external_id'),), 'pk_attr': 'id', 'table_description': 'Users, per channel'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Conversation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('otvet.User', source_field='user_id', db_constraint=True, to_field='id', related_name='conversations', on_delete=OnDelete.CASCADE)),
                ('chat_id', fields.CharField(max_length=255)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'otvet_conversation', 'app': 'otvet', 'indexes': [Index(fields=['user_id', 'chat_id', 'closed_at'])], 'pk_attr': 'id', 'table_description': 'Conversations: history windows of a user in a chat'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Message',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('conversation', fields.ForeignKeyField('otvet.Conversation', source_field='conversation_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('role', fields.CharField(max_length=16)),
                ('text', fields.TextField(unique=False)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('status', fields.CharField(default='ok', max_length=16)),
                ('sources', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('latency_ms', fields.IntField(null=True)),
                ('prompt_tokens', fields.IntField(default=0)),
                ('completion_tokens', fields.IntField(default=0)),
                ('provider', fields.CharField(null=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'otvet_message', 'app': 'otvet', 'indexes': [Index(fields=['conversation_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Questions and answers'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Feedback',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message', fields.ForeignKeyField('otvet.Message', source_field='message_id', db_index=True, db_constraint=True, to_field='id', related_name='feedback', on_delete=OnDelete.CASCADE)),
                ('user', fields.ForeignKeyField('otvet.User', source_field='user_id', db_constraint=True, to_field='id', related_name='feedback', on_delete=OnDelete.CASCADE)),
                ('value', fields.SmallIntField()),
                ('comment', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'otvet_feedback', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'Feedback on answers'},
            bases=['Model'],
        ),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('otvet', '0006_shared_rate_limits')]

    initial = False

    operations = [
        ops.CreateModel(
            name='InboxEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('channel', fields.CharField(max_length=32)),
                ('key', fields.CharField(max_length=64)),
                ('payload', fields.TextField(unique=False)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('locked_by', fields.CharField(null=True, max_length=64)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'otvet_inbox', 'app': 'otvet', 'unique_together': (('channel', 'key'),), 'indexes': [Index(fields=['status', 'due_at']), Index(fields=['finished_at'])], 'pk_attr': 'id', 'table_description': 'Webhook updates acknowledged and not yet handled (and recently handled ones)'},
            bases=['Model'],
        ),
    ]

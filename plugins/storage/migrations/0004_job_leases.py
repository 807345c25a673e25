from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('otvet', '0003_llm_usage_and_embeddings')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Job',
            name='cancel_requested',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Job',
            name='lease_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Job',
            name='message',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Job',
            name='result',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='Job',
            name='run_after',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]

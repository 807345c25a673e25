from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('otvet', '0009_daily_activity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChannelAdmin',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin', fields.ForeignKeyField('otvet.AdminAccount', source_field='admin_id', db_constraint=True, to_field='id', related_name='channel_accounts', on_delete=OnDelete.CASCADE)),
                ('channel', fields.CharField(max_length=32)),
                ('external_id', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'otvet_channel_admin', 'app': 'otvet', 'unique_together': (('channel', 'external_id'),), 'pk_attr': 'id', 'table_description': 'Channel accounts linked to admins'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LinkCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('admin', fields.ForeignKeyField('otvet.AdminAccount', source_field='admin_id', db_constraint=True, to_field='id', related_name='link_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'otvet_link_code', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'One-time codes linking channel accounts to admins'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RevokedToken',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('digest', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'otvet_revoked_token', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'Login tokens signed out before they expired'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Activity',
            name='audio_seconds',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='Message',
            name='audio_seconds',
            field=fields.IntField(default=0, db_default=0),
        ),
    ]

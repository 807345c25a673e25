from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('otvet', '0004_job_leases')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Candidate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('question', fields.TextField(unique=False)),
                ('answer', fields.TextField(unique=False)),
                ('origin', fields.CharField(max_length=16)),
                ('message', fields.ForeignKeyField('otvet.Message', source_field='message_id', null=True, db_constraint=True, to_field='id', related_name='candidates', on_delete=OnDelete.SET_NULL)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('status', fields.CharField(default='pending', max_length=16)),
                ('created_by', fields.CharField(null=True, max_length=255)),
                ('reviewed_by', fields.CharField(null=True, max_length=255)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'otvet_candidate', 'app': 'otvet', 'unique_together': (('message', 'origin'),), 'indexes': [Index(fields=['status', 'created_at'])], 'pk_attr': 'id', 'table_description': "Candidate training data awaiting review by an admin"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Check',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('question', fields.TextField(unique=False)),
                ('expected_source', fields.CharField(null=True, max_length=512)),
                ('expected_answer', fields.TextField(null=True, unique=False)),
                ('language', fields.CharField(null=True, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'otvet_check', 'app': 'otvet', 'pk_attr': 'id', 'table_description': 'The check set that knowledge versions are evaluated on'},
            bases=['Model'],
        ),
    ]

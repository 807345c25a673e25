from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('otvet', '0005_training_checks_and_candidates')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RateWindow',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=255)),
                ('start', fields.BigIntField(description="The window's start and the moment the row is no longer needed, in whole seconds since the epoch.")),
                ('expires', fields.BigIntField(db_index=True)),
                ('hits', fields.IntField(default=0)),
            ],
            options={'table': 'otvet_rate_window', 'app': 'otvet', 'unique_together': (('key', 'start'),), 'pk_attr': 'id', 'table_description': 'Rate-limit counters shared by every replica'},
            bases=['Model'],
        ),
    ]

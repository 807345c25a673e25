from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('otvet', '0007_webhook_inbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SendSlot',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.CharField(max_length=255)),
                ('at', fields.FloatField(description="When it was used: seconds since the epoch by the database's clock, which every replica shares.")),
            ],
            options={'table': 'otvet_send_slot', 'app': 'otvet', 'indexes': [Index(fields=['key', 'at'])], 'pk_attr': 'id', 'table_description': 'Sliding-window limits shared by every replica'},
            bases=['Model'],
        ),
    ]

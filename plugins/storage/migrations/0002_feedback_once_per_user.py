from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

class Migration(migrations.Migration):
    dependencies = [('otvet', '0001_initial')]

    initial = False

    operations = [
        ops.AddConstraint(
            model_name='Feedback',
            constraint=UniqueConstraint(fields=('message', 'user'), name=None),
        ),
    ]

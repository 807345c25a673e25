from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

# Before the constraint: keep only each user's newest rating of a message (an earlier version of the store
# could record two ratings when a user tapped twice at once). Plain SQL that SQLite and PostgreSQL share.
DEDUPLICATE = (
    "DELETE FROM otvet_feedback WHERE id NOT IN "
    "(SELECT MAX(id) FROM otvet_feedback GROUP BY message_id, user_id)"
)


class Migration(migrations.Migration):
    dependencies = [('otvet', '0001_initial')]

    initial = False

    operations = [
        ops.RunSQL(DEDUPLICATE, reverse_sql="SELECT 1"),
        ops.AddConstraint(
            model_name='Feedback',
            constraint=UniqueConstraint(fields=('message', 'user'), name=None),
        ),
    ]

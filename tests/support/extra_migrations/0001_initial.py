from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Note",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("text", fields.TextField(unique=False)),
            ],
            options={"table": "plugin_notes", "app": "notes", "pk_attr": "id"},
            bases=["Model"],
        ),
    ]

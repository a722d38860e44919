# The outbox table takes geo's name, and so do its indexes, constraints and identity sequence, so that
# a migrated database and one Django would create from the models look the same.
#
# Depends on signalements 0005: going backwards, the table gets its old name back before
# signalements owns the model again.

from django.db import migrations

OLD_TABLE = "signalements_outboxmessage"
NEW_TABLE = "geo_outboxmessage"


def _new_name(schema_editor, name, columns, old_table, new_table):
    """The name Django (or PostgreSQL, for inline constraints) would give ``name`` on ``new_table``."""
    for suffix in ("", "_like", "_uniq"):
        if columns and name == schema_editor._create_index_name(old_table, columns, suffix=suffix):
            return schema_editor._create_index_name(new_table, columns, suffix=suffix)
    if name.startswith(f"{old_table}_"):  # PostgreSQL's own: <table>_pkey, <table>_<col>_key / _check
        return f"{new_table}{name[len(old_table) :]}"
    return None  # an explicit name (outbox_due_idx): not tied to the table


def _rename_objects(schema_editor, *, table, old_table, new_table):
    connection = schema_editor.connection
    quote = schema_editor.quote_name
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
        sequences = connection.introspection.get_sequences(cursor, table)
    for name, info in sorted(constraints.items()):
        new = _new_name(schema_editor, name, info["columns"], old_table, new_table)
        if new is None or new == name:
            continue
        if info["index"]:
            schema_editor.execute(f"ALTER INDEX {quote(name)} RENAME TO {quote(new)}")
        else:
            schema_editor.execute(
                f"ALTER TABLE {quote(table)} RENAME CONSTRAINT {quote(name)} TO {quote(new)}"
            )
    for sequence in sequences:
        name = sequence["name"]
        if name.startswith(f"{old_table}_"):
            new = f"{new_table}{name[len(old_table) :]}"
            schema_editor.execute(f"ALTER SEQUENCE {quote(name)} RENAME TO {quote(new)}")


def rename_to_geo(apps, schema_editor):
    _rename_objects(schema_editor, table=NEW_TABLE, old_table=OLD_TABLE, new_table=NEW_TABLE)


def rename_to_signalements(apps, schema_editor):
    _rename_objects(schema_editor, table=NEW_TABLE, old_table=NEW_TABLE, new_table=OLD_TABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("geo", "0003_outboxmessage"),
        ("signalements", "0005_delete_outboxmessage"),
    ]

    operations = [
        migrations.AlterModelTable(name="outboxmessage", table=None),
        migrations.RunPython(rename_to_geo, rename_to_signalements, elidable=False),
    ]

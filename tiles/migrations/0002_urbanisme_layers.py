"""Data versions of the concertation layers (project perimeters, contributions, planning layers).

Here rather than in ``urbanisme/migrations``: the domains never import ``tiles``. Written out (not
read from ``tiles.layers``) so that the migration stays what it was when it ran.
"""

from django.db import migrations

from tiles.versioning import drop_triggers_sql, triggers_sql

LAYERS = {
    "projects": ("urbanisme_project", "urbanisme_phase"),
    "contributions": ("urbanisme_contribution", "urbanisme_project", "urbanisme_theme", "urbanisme_reply"),
    "planning": ("urbanisme_layerfeature", "urbanisme_layer", "urbanisme_project"),
}


class Migration(migrations.Migration):
    dependencies = [
        ("tiles", "0001_dataversion"),
        ("urbanisme", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(triggers_sql(layer, tables), reverse_sql=drop_triggers_sql(layer, tables))
        for layer, tables in LAYERS.items()
    ]

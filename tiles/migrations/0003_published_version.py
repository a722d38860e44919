"""Published versions of the tile layers (``TILES_VERSION_MIN_INTERVAL``), on each layer's base row.

See ``tiles.versioning``: a layer written all the time advances its served version at most once
per interval, so that its caches can hit. Columns only: the counters and triggers are unchanged.
"""

from django.db import migrations

from tiles.versioning import PUBLISHED_SQL, UNPUBLISHED_SQL


class Migration(migrations.Migration):
    dependencies = [
        ("tiles", "0002_urbanisme_layers"),
    ]

    operations = [
        migrations.RunSQL(PUBLISHED_SQL, reverse_sql=UNPUBLISHED_SQL),
    ]

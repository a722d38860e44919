"""Per-layer data versions, bumped by statement-level triggers on the tables each layer reads.

Written out here (not read from ``tiles.layers``) so that the migration stays what it was when it
ran; a new layer adds its own migration with ``triggers_sql`` / ``drop_triggers_sql``.
"""

from django.db import migrations

from tiles.versioning import CREATE_SQL, DROP_SQL, drop_triggers_sql, triggers_sql

LAYERS = {
    "reports": ("signalements_report", "signalements_ticket", "signalements_support", "geo_category"),
    "zones": ("geo_zone", "geo_zone_categories", "geo_service", "geo_category"),
    "territories": ("geo_territory", "geo_organisation"),
    "network": ("geo_networkfeature", "geo_networklayer", "geo_service"),
}


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("geo", "0002_service_webhook_category_radius"),
        ("signalements", "0002_photo_private_storage"),
    ]

    operations = [
        migrations.RunSQL(CREATE_SQL, reverse_sql=DROP_SQL),
        *(
            migrations.RunSQL(triggers_sql(layer, tables), reverse_sql=drop_triggers_sql(layer, tables))
            for layer, tables in LAYERS.items()
        ),
    ]

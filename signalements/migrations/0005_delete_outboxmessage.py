# The outbox now belongs to geo (geo/migrations/0003_outboxmessage took the model over with its
# table): signalements forgets it without touching the database. Runs after geo's state-create so
# that the model is never missing from the project's state.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("signalements", "0004_outboxmessage_topic"),
        ("geo", "0003_outboxmessage"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="OutboxMessage")],
            database_operations=[],
        ),
    ]

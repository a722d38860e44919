# The outbox moves to geo (geo/migrations/0003_outboxmessage, 0004_outboxmessage_table): first, while
# signalements still owns it, its foreign key to Report becomes a free ``topic`` ("report:<id>"),
# because geo cannot reference a domain's model.

from django.db import migrations, models

FILL_TOPIC = """
UPDATE signalements_outboxmessage SET topic = 'report:' || report_id WHERE report_id IS NOT NULL
"""

# Backwards: a topic naming a report that still exists points the foreign key at it again (other
# topics, such as "project:42", cannot). The foreign-key checks must not stay pending: dropping
# ``topic`` (an ALTER TABLE) in the same transaction would fail on pending trigger events. Django
# already makes the re-added key IMMEDIATE; the SET CONSTRAINTS below does not rely on it.
FILL_REPORT = """
UPDATE signalements_outboxmessage AS o
   SET report_id = r.id
  FROM signalements_report AS r
 WHERE o.topic ~ '^report:[0-9]{1,18}$'
   AND r.id = substring(o.topic FROM 8)::bigint;
SET CONSTRAINTS ALL IMMEDIATE;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("signalements", "0003_apiclient"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboxmessage",
            name="topic",
            field=models.CharField(blank=True, db_index=True, default="", max_length=100),
            preserve_default=False,
        ),
        migrations.RunSQL(sql=FILL_TOPIC, reverse_sql=FILL_REPORT, elidable=False),
        migrations.RemoveField(
            model_name="outboxmessage",
            name="report",
        ),
    ]

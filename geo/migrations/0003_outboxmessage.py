# The notification outbox moves from signalements to geo, which every domain stands on: geo takes
# over the model and its existing table (renamed in 0004_outboxmessage_table) without copying a row.
#
# The dependency on signalements is history, not an import: the table was created there
# (signalements 0001, reshaped in 0004_outboxmessage_topic) and must exist before geo owns it.

from django.db import migrations, models


def _move_content_type(apps, schema_editor, *, source, target):
    """Carry the content type over, with the permissions and admin history that point at it."""
    content_type = apps.get_model("contenttypes", "ContentType")
    rows = content_type.objects.using(schema_editor.connection.alias)
    if not rows.filter(app_label=target, model="outboxmessage").exists():
        rows.filter(app_label=source, model="outboxmessage").update(app_label=target)


def content_type_to_geo(apps, schema_editor):
    _move_content_type(apps, schema_editor, source="signalements", target="geo")


def content_type_to_signalements(apps, schema_editor):
    _move_content_type(apps, schema_editor, source="geo", target="signalements")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("geo", "0002_service_webhook_category_radius"),
        ("signalements", "0004_outboxmessage_topic"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboxMessage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("email", "E-mail"), ("webhook", "Webhook")], max_length=10
                            ),
                        ),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("pending", "En attente"),
                                    ("sent", "Envoyé"),
                                    ("failed", "Abandonné"),
                                ],
                                default="pending",
                                max_length=10,
                            ),
                        ),
                        ("dedupe_key", models.CharField(max_length=200, unique=True)),
                        ("destination", models.CharField(max_length=500)),
                        ("subject", models.CharField(blank=True, max_length=300)),
                        ("body_text", models.TextField(blank=True)),
                        ("body_html", models.TextField(blank=True)),
                        ("payload", models.JSONField(blank=True, default=dict)),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("next_attempt_at", models.DateTimeField(db_index=True)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("topic", models.CharField(blank=True, db_index=True, max_length=100)),
                    ],
                    options={
                        "verbose_name": "notification",
                        "verbose_name_plural": "notifications",
                        "db_table": "signalements_outboxmessage",
                        "indexes": [
                            models.Index(
                                condition=models.Q(("state", "pending")),
                                fields=["next_attempt_at"],
                                name="outbox_due_idx",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_geo, content_type_to_signalements, elidable=False),
    ]

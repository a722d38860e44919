# Response templates now belong to an organisation (empty = shared by all). Existing templates keep
# working: each is given to the one organisation whose services receive its category (zones, network
# features and default services covering the category, its parent or its children — "all categories"
# rules included), and stays shared when that is ambiguous (several organisations) or unknown (none).
# A template without a category is given to the organisation only when the instance has services of
# one organisation alone. Reversing drops the column: templates are shared again, as before.

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


def _organisations_for(apps, category):  # type: ignore[no-untyped-def]
    Service = apps.get_model("geo", "Service")
    if category is None:
        return set(Service.objects.values_list("organisation_id", flat=True).distinct())
    Category = apps.get_model("geo", "Category")
    related = {category.pk, *Category.objects.filter(parent_id=category.pk).values_list("pk", flat=True)}
    if category.parent_id:
        related.add(category.parent_id)
    services = Service.objects.filter(
        Q(zones__all_categories=True)
        | Q(zones__categories__in=related)
        | Q(network_features__layer__categories__in=related)
        | Q(
            pk__in=apps.get_model("geo", "DefaultService")
            .objects.filter(Q(category__isnull=True) | Q(category__in=related))
            .values("service_id")
        )
    )
    return set(services.values_list("organisation_id", flat=True).distinct())


def assign_organisations(apps, schema_editor):  # type: ignore[no-untyped-def]
    ResponseTemplate = apps.get_model("signalements", "ResponseTemplate")
    for template in ResponseTemplate.objects.select_related("category").filter(organisation__isnull=True):
        organisations = _organisations_for(apps, template.category)
        if len(organisations) == 1:
            template.organisation_id = organisations.pop()
            template.save(update_fields=["organisation"])


class Migration(migrations.Migration):
    dependencies = [
        ("geo", "0005_personaldataaccess"),
        ("signalements", "0005_delete_outboxmessage"),
    ]

    operations = [
        migrations.AddField(
            model_name="responsetemplate",
            name="organisation",
            field=models.ForeignKey(
                blank=True,
                help_text="Vide : réponse commune à toutes les organisations.",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="response_templates",
                to="geo.organisation",
                verbose_name="organisation",
            ),
        ),
        migrations.RunPython(assign_organisations, migrations.RunPython.noop),
    ]

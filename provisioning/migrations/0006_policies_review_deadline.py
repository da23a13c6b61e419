from datetime import timedelta

from django.db import migrations, models


def backfill(apps, schema_editor):
    """Requests waiting for review get the deadline of their template's review window (or expiry)."""
    ProvisionRequest = apps.get_model("provisioning", "ProvisionRequest")
    Template = apps.get_model("templates", "Template")
    windows = dict(Template.objects.values_list("id", "review_timeout_hours"))
    for request in ProvisionRequest.objects.filter(status="REQUESTED", review_deadline=None):
        deadline = request.created_at + timedelta(hours=windows.get(request.template_id, 72))
        if request.expires_at is not None:
            deadline = min(deadline, request.expires_at)
        ProvisionRequest.objects.filter(pk=request.pk).update(review_deadline=deadline)


class Migration(migrations.Migration):

    dependencies = [
        ("provisioning", "0005_policies"),
    ]

    operations = [
        migrations.AddField(
            model_name="provisionrequest",
            name="review_deadline",
            field=models.DateTimeField(
                blank=True,
                help_text="A request still REQUESTED times out then: submission + the review window, or its expiry if sooner.",
                null=True,
            ),
        ),
        migrations.AddIndex(
            model_name="provisionrequest",
            index=models.Index(fields=["status", "review_deadline"], name="provreq_status_review_deadline"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]

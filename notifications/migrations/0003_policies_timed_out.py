from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0002_indexes_for_hot_paths"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(choices=[('request_approved', 'Your request was approved'), ('request_rejected', 'Your request was rejected'), ('request_timed_out', 'A request was not reviewed in time'), ('provisioned', 'Your environment is ready'), ('provision_failed', 'Provisioning failed'), ('extension_approved', 'Your extension was approved'), ('extension_rejected', 'Your extension was rejected'), ('expiry_warning', 'Your environment expires soon'), ('expired', 'Your environment expired'), ('purged', 'Your environment was deleted'), ('review_request', 'A request awaits review (DevOps)'), ('review_extension', 'An extension awaits review (DevOps)'), ('purge_failed', 'A purge failed (DevOps)')], max_length=32),
        ),
    ]

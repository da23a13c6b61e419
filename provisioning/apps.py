from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

    def ready(self) -> None:
        # Models are loaded now. quotas reports what a user's reservations consumed so far; the
        # reservations are provision requests, so provisioning prices them (quotas cannot import it).
        from provisioning import bills
        from quotas import services as quota_services

        quota_services.set_consumption(bills.consumed_to_date)

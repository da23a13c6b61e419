from django.apps import AppConfig


class ConfigsConfig(AppConfig):
    name = "configs"
    default_auto_field = "django_mongodb_backend.fields.ObjectIdAutoField"

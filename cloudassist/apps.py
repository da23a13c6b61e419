"""AppConfigs: Django's contrib apps on ObjectId primary keys, and the project app."""

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth.apps import AuthConfig
from django.contrib.contenttypes.apps import ContentTypesConfig
from django_rq.apps import DjangoRqAdminConfig

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"


class MongoAdminConfig(AdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD
    default_site = "cloudassist.admin.CloudAssistAdminSite"


class MongoAuthConfig(AuthConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class MongoContentTypesConfig(ContentTypesConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD


class CloudAssistConfig(AppConfig):
    name = "cloudassist"
    verbose_name = "CloudAssist"
    default_auto_field = OBJECT_ID_AUTO_FIELD

    def ready(self):
        # Tracing, when the OTEL_* variables switch it on (cloudassist/tracing.py). ready() runs inside
        # django.setup(): before the WSGI/ASGI handler builds its middleware chain, before the first
        # MongoClient, and in the rq worker before it forks its work horses.
        from cloudassist import tracing

        tracing.setup()


class MongoRQConfig(DjangoRqAdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD

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


class MongoRQConfig(DjangoRqAdminConfig):
    default_auto_field = OBJECT_ID_AUTO_FIELD

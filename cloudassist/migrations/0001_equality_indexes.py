"""Plain indexes for the contrib apps' unique string fields that every request looks up.

django-mongodb-backend creates unique indexes as partial indexes (only where the field is a
string), and MongoDB cannot use a partial index for a plain equality query: each token check,
session read and login by username scanned its collection. These plain indexes sit beside the
unique ones (which still enforce uniqueness). Our own models declare theirs in Meta.indexes.

(It once also indexed DRF's ``authtoken_token.key``; API tokens are now cloudassist.ApiToken,
looked up by digest, and 0003 drops that collection.)
"""

from django.db import migrations

INDEXES = [
    ("auth_user", "username"),
    ("auth_group", "name"),
    ("django_session", "session_key"),
]


def _name(field: str) -> str:
    return f"{field}_equality"


def create(apps, schema_editor):
    for collection, field in INDEXES:
        schema_editor.connection.get_collection(collection).create_index([(field, 1)], name=_name(field))


def drop(apps, schema_editor):
    for collection, field in INDEXES:
        schema_editor.connection.get_collection(collection).drop_index(_name(field))


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0001_initial"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(create, drop)]

"""The config server: named JSON documents with a version, history, optional JSON Schema,
access lists and an optional time to live."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django_mongodb_backend.fields import ArrayField

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
NAME_RULE = "1 to 128 characters: letters, digits, '.', '_', ':' and '-', starting with a letter or digit"


class Config(models.Model):
    name = models.CharField(
        max_length=128, unique=True, validators=[RegexValidator(NAME_PATTERN, f"Names are {NAME_RULE}.")]
    )
    data = models.JSONField(null=True, blank=True, help_text="Any JSON value.")
    version = models.PositiveIntegerField(default=1)
    schema = models.JSONField(null=True, blank=True, help_text="Optional JSON Schema every write must satisfy.")
    labels = models.JSONField(default=dict, blank=True, help_text="String labels for filtering, e.g. {'env': 'prod'}.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    read_roles = ArrayField(
        models.CharField(max_length=150), default=list, blank=True, help_text="Roles that may read it (writers too)."
    )
    write_roles = ArrayField(
        models.CharField(max_length=150), default=list, blank=True, help_text="Roles that may change it."
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Gone after this (session data).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["name"]
        indexes = [
            # The unique index on name is partial (only where name is a string), which a plain
            # {name: ...} lookup cannot use: GET by name, prefixes and the list's order use this one.
            models.Index(fields=["name"], name="config_name"),
            models.Index(fields=["expires_at"], name="config_expires"),
            # The access filter of a non-admin's list (owner, or a role in read_roles/write_roles), by name.
            models.Index(fields=["owner", "name"], name="config_owner_name"),
            models.Index(fields=["read_roles", "name"], name="config_read_roles_name"),
            models.Index(fields=["write_roles", "name"], name="config_write_roles_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ConfigVersion(models.Model):
    """Every version of every entry (the current one included), for history and rollback."""

    config = models.ForeignKey(Config, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    data = models.JSONField(null=True, blank=True)
    action = models.CharField(max_length=16, help_text="create, replace, patch, rollback")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        # The unique constraint's index is partial: the history list (by config, newest first) uses this one.
        indexes = [models.Index(fields=["config", "-version"], name="configversion_history")]
        constraints = [models.UniqueConstraint(fields=["config", "version"], name="config_version_unique")]

    def __str__(self) -> str:
        return f"{self.config_id} v{self.version}"

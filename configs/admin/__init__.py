"""The config server in the Django admin: entries with their history, and rollback.

DevOps view entries and their history; admins add, change, delete and roll back. Every write goes
through configs.services, like the API; nothing here writes a version itself.

- entries.py: ``ConfigAdmin`` (registered here): who may do what, the pages' fields and columns.
- views.py: the pages that write (add, change, delete, rollback, the bulk delete), as explicit
  admin views: validate the form, call one write, log it, redirect; or show the page again.
- writes.py: those writes: the service calls, and their refusals (cloudassist.exceptions) turned
  into form errors or messages.
- forms.py: the entry form (validation only) and the rollback confirmation form.
- history.py: the version history shown on the change page (display only).
- filters.py, display.py: list filters; JSON shown escaped.
"""

from configs.admin.entries import ConfigAdmin

__all__ = ["ConfigAdmin"]

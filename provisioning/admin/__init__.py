"""The DevOps approval console: provision and extension requests pending review, read-only.

Nothing is added, changed or deleted here. Approve and reject are admin actions (for one or
many, from the changelist or a change page) that ask for a note on an intermediate page and
then call the same services as the API; the services decide who may review and write the
status with its audit event. Only reviewers (DevOps and admins) get the actions; developers
are not staff and cannot reach the admin at all.

- ``requests``: provision requests (approve, reject, purge).
- ``extensions``: extension requests (approve, reject), and the inline on a provision request.
- ``events``: the audit trail, on its own and as inlines.
- ``orphans``: resources no live request owns (the reconcile job's), with "purge now".
- ``review``: the approve/reject/purge actions with their note page, shared by both reviews.
- ``filters``: the list filters; ``base``: links, ages and the read-only console mixin.

Importing the modules here registers their admins when Django's autodiscover imports the package.
"""

from provisioning.admin import events, extensions, orphans, requests

__all__ = ["events", "extensions", "orphans", "requests"]

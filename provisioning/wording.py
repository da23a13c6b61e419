"""What people read about a move on a provision request, in the portal, the console and the
notifications alike: what a destructive move deletes and what it costs to lose (said before it,
on a confirmation), and where the request stands after a move (said after it, from the status
it is in now, never the one it was in)."""

from __future__ import annotations

from provisioning.choices import RequestStatus
from templates.choices import ResourceType

R = RequestStatus

# What purging deletes, by the resource type the request was submitted for.
DELETED = {
    ResourceType.KUBERNETES_CLUSTER: "the cluster and its node groups",
    ResourceType.KUBERNETES_NAMESPACE: "the namespace and everything running in it",
    ResourceType.S3_BUCKET: "the bucket and every object stored in it",
    ResourceType.EC2_INSTANCE: "the instance and its disk",
}
SECRETS = {
    ResourceType.KUBERNETES_CLUSTER: "kubeconfig",
    ResourceType.KUBERNETES_NAMESPACE: "kubeconfig",
}


def _resource_type(request) -> str:
    snapshot = request.template_snapshot if isinstance(request.template_snapshot, dict) else {}
    return snapshot.get("resource_type") or ""


def deleted(request) -> str:
    """ "the cluster and its node groups": what purging ``request`` deletes."""
    return DELETED.get(_resource_type(request), "its resources")


def secret(request) -> str:
    return SECRETS.get(_resource_type(request), "credentials")


def approvals_progress(request) -> tuple[int, int]:
    return len(request.approvals or []), max(request.required_approvals or 1, 1)


def waiting_for_approval(request) -> str:
    """ "Approval 1 of 2 recorded; waiting for another reviewer." (four-eyes, before the last)."""
    done, needed = approvals_progress(request)
    others = "another reviewer" if needed - done == 1 else f"{needed - done} more reviewers"
    return f"Approval {done} of {needed} recorded; waiting for {others}."


def consequence(request, move: str) -> str:
    """What a destructive move costs, said on its confirmation (empty for the moves that lose
    nothing); ``request`` None: said of several at once."""
    what = deleted(request) if request is not None else "what each one created"
    kept = f"the {secret(request)} stops" if request is not None else "their kubeconfigs and credentials stop"
    if move in ("start_purge", "purge"):
        return (
            f"Purging deletes {what} now, with whatever data is in it, and {kept} working. "
            "This cannot be undone: to have it again, submit a new request."
        )
    if move == "revoke":
        return (
            "Revoking withdraws the request: nothing is created, what it holds on the quota is given back, "
            "and it cannot be resumed; to have it after all, submit a new request."
        )
    if move == "mark_cleaned_up":
        return (
            "Marking cleaned up deletes nothing: it closes the request as purged, gives its quota back and "
            "drops what it stored (kubeconfig or credentials). Do it only after deleting by hand what the "
            "failed purge left: whatever is still in the cloud is no longer tracked, and keeps costing money."
        )
    return ""


def status_after(request) -> str:
    """Where ``request`` stands now, after a move: its status and what happens next."""
    status = request.status
    if status == R.REQUESTED:
        done, _needed = approvals_progress(request)
        return waiting_for_approval(request) if done else "Requested: it waits for review."
    return {
        R.APPROVED: "Approved: provisioning starts now.",
        R.INITIATED: "Provisioning: it is being created.",
        R.DEPLOYED: "Deployed: it is ready.",
        R.REJECTED: "Rejected: the requester is told why.",
        R.REVOKED: "Revoked: nothing will be created, and its quota hold is given back.",
        R.TIMED_OUT: "Not reviewed in time: nothing will be created.",
        R.FAILED: "Provisioning failed.",
        R.EXPIRED: "Expired: it will be deleted.",
        R.PURGE_INITIATED: f"Purging: {deleted(request)} are being deleted.",  # each is plural
        R.PURGED: "Purged: it is closed and its quota given back.",
        R.PURGE_FAILED: "Purge failed: it is retried; DevOps are told.",
    }.get(status, f"Now {request.get_status_display().lower()}.")

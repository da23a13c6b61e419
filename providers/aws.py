"""What the AWS providers (aws-eks, aws-s3, aws-ec2) share: the one place that builds boto3
clients, error translation, bounded waiting, the regions to list for the reconcile job, and tags.

Clients talk to ``AWS_ENDPOINT_URL`` when it is set; otherwise, when the emulator is in use
(``AWS_USE_EMULATOR``), to the embedded moto server on ``EMBEDDED_MOTO_PORT`` with dummy
credentials; otherwise to AWS itself with boto3's usual credential chain.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from django.conf import settings

from cloudassist.embedded import EMULATOR_CREDENTIALS
from providers.base import ProviderError, Target, TransientProviderError

T = TypeVar("T")

# Error codes worth retrying later: throttling, AWS-side trouble, and state not settled yet.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "OperationAborted",
        "ConcurrentModificationException",
        "IncorrectInstanceState",
    }
)


# --- clients ----------------------------------------------------------------------------------


def endpoint_url() -> str | None:
    """Where requests go: the configured endpoint, the embedded emulator, or AWS (None)."""
    if settings.AWS_ENDPOINT_URL:
        return settings.AWS_ENDPOINT_URL
    if settings.AWS_EMULATOR:
        return f"http://127.0.0.1:{settings.EMBEDDED_MOTO_PORT}"
    return None


def client(service: str, region: str | None = None):
    """A boto3 client for ``service`` in ``region`` (default ``AWS_REGION``), configured for
    the endpoint in use, with botocore's standard retry mode."""
    return _client(
        service,
        region or settings.AWS_REGION,
        endpoint_url(),
        bool(settings.AWS_EMULATOR),
        int(settings.AWS_MAX_ATTEMPTS),
    )


@functools.lru_cache(maxsize=64)
def _client(service: str, region: str, endpoint: str | None, emulator: bool, max_attempts: int):
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="cloudassist",
        s3={"addressing_style": "path"} if endpoint else None,
    )
    # The emulator gets dummy credentials, so real ones are never sent to it.
    credentials = (
        {
            "aws_access_key_id": EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        if emulator
        else {}
    )
    with translate(f"create the {service} client"):
        return boto3.session.Session().client(
            service, region_name=region, endpoint_url=endpoint, config=config, **credentials
        )


@functools.cache
def regions(service: str) -> frozenset[str]:
    """The commercial regions where ``service`` exists (botocore's bundled endpoint data)."""
    return frozenset(boto3.session.Session().get_available_regions(service))


def inventory_regions(service: str) -> list[str]:
    """Where the reconcile job looks for ``service``'s resources: ``AWS_INVENTORY_REGIONS`` when
    set, else ``AWS_REGION`` and every region with instance prices (a template can only be saved,
    and a request submitted, for a region its plan can be priced in). Not every region of the
    service: against the emulator that takes half a minute, and on AWS a region not enabled for
    the account refuses the calls."""
    if settings.AWS_INVENTORY_REGIONS:
        return list(settings.AWS_INVENTORY_REGIONS)
    from quotas.models import InstancePrice

    priced = set(InstancePrice.objects.values_list("region", flat=True).distinct())
    return sorted((priced | {settings.AWS_REGION}) & regions(service))


# --- errors -----------------------------------------------------------------------------------


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_error(exc: ClientError, *codes: str) -> bool:
    return error_code(exc) in codes


@contextmanager
def translate(action: str) -> Iterator[None]:
    """Turn botocore's exceptions into ProviderError (permanent) or TransientProviderError."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "Error"
        message = str(error.get("Message", "")) or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        text = f"Cannot {action}: {code}: {message}"
        if code in TRANSIENT_CODES or status >= 500:
            raise TransientProviderError(text) from exc
        raise ProviderError(text) from exc
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as exc:
        where = endpoint_url() or "AWS"
        hint = " (is `make run` running? The AWS emulator starts with it)" if settings.AWS_EMULATOR else ""
        raise TransientProviderError(f"Cannot {action}: {where} is unreachable{hint}: {exc}") from exc
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError) as exc:
        raise ProviderError(
            f"Cannot {action}: AWS is not configured ({exc}); set AWS credentials (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance role) and AWS_REGION, or AWS_USE_EMULATOR=true"
        ) from exc
    except BotoCoreError as exc:
        raise ProviderError(f"Cannot {action}: {exc}") from exc


# --- waiting ----------------------------------------------------------------------------------


def wait_for(check: Callable[[], T | None], *, what: str) -> T:
    """Call ``check`` until it returns something (not None), for at most ``AWS_WAIT_SECONDS``.

    When time is up, raise TransientProviderError so that the job retries later and the
    provider carries on from where it is.
    """
    deadline = time.monotonic() + settings.AWS_WAIT_SECONDS
    while True:
        result = check()
        if result is not None:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransientProviderError(f"{what} after {settings.AWS_WAIT_SECONDS}s; will check again")
        time.sleep(min(settings.AWS_POLL_SECONDS, remaining))


# --- tags -------------------------------------------------------------------------------------


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or []}


REQUEST_TAG = "cloudassist-request"


def check_owner(tags: dict[str, str], target: Target, *, what: str) -> None:
    """Refuse to adopt, change or delete what another request (or someone else) made.

    A resource with a name derived from this request but without our tags is ours: a crash
    between creating and tagging it leaves it like that.
    """
    owner = tags.get(REQUEST_TAG)
    if owner is not None and owner != target.request_id:
        raise ProviderError(f"{what} exists but belongs to request {owner}, not {target.request_id}.")

from cloudassist.apps import ProjectAppConfig


class ProvidersConfig(ProjectAppConfig):
    """The provider plugins (aws-eks, aws-s3, aws-ec2, kubernetes, noop): no models of their own."""

    name = "providers"
    # Every plugin module (kubernetes, boto3) from the registry, imported before the worker forks.
    worker_preload = ("providers.names",)
    # Whether a template's provider is configured (the core asks, importing nothing).
    provider_check = "providers.unavailable_reason"

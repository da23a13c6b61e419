from django.db import models


class ResourceType(models.TextChoices):
    KUBERNETES_CLUSTER = "KUBERNETES_CLUSTER", "Kubernetes cluster"
    KUBERNETES_NAMESPACE = "KUBERNETES_NAMESPACE", "Kubernetes namespace"
    S3_BUCKET = "S3_BUCKET", "S3 bucket"
    EC2_INSTANCE = "EC2_INSTANCE", "EC2 instance"

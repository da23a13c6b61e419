from django.db import models


class ResourceType(models.TextChoices):
    KUBERNETES_CLUSTER = "KUBERNETES_CLUSTER", "Kubernetes cluster"
    KUBERNETES_NAMESPACE = "KUBERNETES_NAMESPACE", "Kubernetes namespace"
    S3_BUCKET = "S3_BUCKET", "S3 bucket"
    EC2_INSTANCE = "EC2_INSTANCE", "EC2 instance"


class Provider(models.TextChoices):
    """Provider names a template may use; the workers issue registers an implementation for each."""

    AWS_EKS = "aws-eks", "AWS EKS"
    KUBERNETES = "kubernetes", "Kubernetes (namespace on a shared cluster)"
    AWS_S3 = "aws-s3", "AWS S3"
    AWS_EC2 = "aws-ec2", "AWS EC2"

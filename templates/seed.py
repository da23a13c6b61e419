"""The templates seeded by `manage.py seed_demo`: the seed's EKS cluster, a dev namespace, an S3
bucket and EC2 instances."""

from quotas.pricing_seed import DISK_TYPES, INSTANCE_TYPES, REGIONS
from templates import services
from templates.models import Template

# The regions and instance types the price seed covers (quotas/pricing_seed.py): every one offered has a price.
EKS_REGIONS = list(REGIONS)
EKS_INSTANCE_TYPES = [
    "t2.micro",
    "t2.small",
    "t2.medium",
    "t2.large",
    "t2.xlarge",
    "m4.large",
    "m4.xlarge",
    "c4.large",
    "c4.xlarge",
    "r4.large",
    "t3.micro",
    "t3.small",
    "t3.medium",
    "t3.large",
    "t3a.medium",
    "t3a.large",
    "m5.large",
    "m5.xlarge",
    "m6i.large",
    "m6i.xlarge",
    "c5.large",
    "c5.xlarge",
    "r5.large",
]

BASIC_EKS_CLUSTER = {
    "id": "basic-eks-cluster",
    "name": "Basic EKS cluster",
    "description": "An EKS cluster with one managed node group (eksctl ClusterConfig).",
    "resource_type": "KUBERNETES_CLUSTER",
    "provider": "aws-eks",
    "default_lifetime_hours": 8,
    "max_lifetime_hours": 168,
    "parameters_schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["cluster_name"],
        "properties": {
            "cluster_name": {
                "type": "string",
                "description": "Cluster name: lower-case letters, digits and hyphens, starting with a letter.",
                "pattern": "^[a-z][a-z0-9-]{1,38}[a-z0-9]$",
                "examples": ["team-a-dev"],
            },
            "region": {"type": "string", "enum": EKS_REGIONS, "default": "us-east-1"},
            "instance_type": {"type": "string", "enum": EKS_INSTANCE_TYPES, "default": "t3.medium"},
            "desired_capacity": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
            "volume_size": {
                "type": "integer",
                "description": "Node root volume size in GiB.",
                "minimum": 20,
                "maximum": 500,
                "default": 20,
            },
        },
    },
    "body": """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: {{ cluster_name }}
  region: {{ region }}
managedNodeGroups:
  - name: ng-1
    instanceType: {{ instance_type }}
    desiredCapacity: {{ desired_capacity }}
    minSize: {{ desired_capacity }}
    maxSize: {{ desired_capacity }}
    volumeSize: {{ volume_size }}
    volumeType: gp3
""",
}

DEV_NAMESPACE = {
    "id": "dev-namespace",
    "name": "Development namespace",
    "description": "A namespace on the shared cluster with a resource quota and default container limits.",
    "resource_type": "KUBERNETES_NAMESPACE",
    "provider": "kubernetes",
    "default_lifetime_hours": 24,
    "max_lifetime_hours": 336,
    "parameters_schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["namespace"],
        "properties": {
            "namespace": {
                "type": "string",
                "description": "Namespace name (a DNS label).",
                "pattern": "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
                "examples": ["team-a"],
            },
            "cpu_limit": {
                "type": "integer",
                "title": "CPU limit",
                "description": "CPU cores in total.",
                "minimum": 1,
                "maximum": 16,
                "default": 2,
            },
            "memory_limit_gi": {
                "type": "integer",
                "title": "Memory limit (GiB)",
                "description": "Memory in GiB in total.",
                "minimum": 1,
                "maximum": 64,
                "default": 4,
            },
        },
    },
    "body": """\
apiVersion: v1
kind: Namespace
metadata:
  name: {{ namespace }}
  labels:
    app.kubernetes.io/managed-by: cloudassist
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: {{ namespace }}-quota
  namespace: {{ namespace }}
spec:
  hard:
    requests.cpu: "{{ cpu_limit }}"
    limits.cpu: "{{ cpu_limit }}"
    requests.memory: {{ memory_limit_gi }}Gi
    limits.memory: {{ memory_limit_gi }}Gi
---
apiVersion: v1
kind: LimitRange
metadata:
  name: {{ namespace }}-defaults
  namespace: {{ namespace }}
spec:
  limits:
    - type: Container
      default:
        cpu: 500m
        memory: 512Mi
      defaultRequest:
        cpu: 100m
        memory: 128Mi
""",
}

S3_BUCKET = {
    "id": "s3-bucket",
    "name": "S3 bucket",
    "description": "A private S3 bucket, with credentials (an IAM user's access key) that reach only this bucket.",
    "resource_type": "S3_BUCKET",
    "provider": "aws-s3",
    "default_lifetime_hours": 24,
    "max_lifetime_hours": 720,
    "parameters_schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["bucket"],
        "properties": {
            "bucket": {
                "type": "string",
                "title": "Bucket name",
                "description": (
                    "Bucket name: 3-54 lower-case letters, digits and hyphens. The request's short id is "
                    "appended, since bucket names are global."
                ),
                "pattern": "^[a-z0-9][a-z0-9-]{1,52}[a-z0-9]$",
                "examples": ["team-a-data"],
            },
            "region": {"type": "string", "enum": EKS_REGIONS, "default": "us-east-1"},
            "versioning": {"type": "boolean", "description": "Keep every version of every object.", "default": False},
        },
    },
    "body": """\
apiVersion: cloudassist.io/v1alpha1
kind: S3Bucket
metadata:
  name: {{ bucket }}  # CloudAssist appends the request's short id
  region: {{ region }}
spec:
  versioning: {{ versioning | tojson }}
  encryption:
    algorithm: AES256  # what S3 applies anyway; aws:kms (with kmsKeyId) for a KMS key
  publicAccessBlock:
    blockPublicAcls: true
    ignorePublicAcls: true
    blockPublicPolicy: true
    restrictPublicBuckets: true
  credentials: iam-user-access-key  # an IAM user whose access key reaches only this bucket
""",
}

EC2_INSTANCE = {
    "id": "ec2-instance",
    "name": "EC2 instances",
    "description": "1 to 5 Linux instances in the default VPC, with an SSH key pair (Amazon Linux 2023 by default).",
    "resource_type": "EC2_INSTANCE",
    "provider": "aws-ec2",
    "default_lifetime_hours": 8,
    "max_lifetime_hours": 168,
    "parameters_schema": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "region": {"type": "string", "enum": EKS_REGIONS, "default": "us-east-1"},
            "instance_type": {"type": "string", "enum": INSTANCE_TYPES, "default": "t3.micro"},
            "count": {"type": "integer", "title": "Instances", "minimum": 1, "maximum": 5, "default": 1},
            "volume_size": {
                "type": "integer",
                "description": "Root volume size in GiB.",
                "minimum": 8,
                "maximum": 500,
                "default": 8,
            },
            "volume_type": {"type": "string", "enum": DISK_TYPES, "default": "gp3"},
            "ami": {
                "type": "string",
                "title": "AMI",
                "description": "An AMI id in the region; default: the latest Amazon Linux 2023 (x86-64).",
                "pattern": "^ami-[0-9a-f]{8,17}$",
            },
        },
    },
    "body": """\
apiVersion: cloudassist.io/v1alpha1
kind: EC2Instances
metadata:
  region: {{ region }}
spec:
  count: {{ count }}
  instanceType: {{ instance_type }}
{% if ami is defined %}
  imageId: {{ ami }}
{% else %}
  imageId: resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
{% endif %}
  rootVolume:
    size: {{ volume_size }}
    type: {{ volume_type }}
  keyPair: generated
  # Open ports with a security group of the request's own (without one, the default VPC's
  # default group applies), and tag the instances and their volumes:
  # securityGroup:
  #   ingress:
  #     - {protocol: tcp, fromPort: 22, toPort: 22, cidr: 10.0.0.0/8, description: ssh}
  # tags:
  #   team: a
""",
}

TEMPLATES = [BASIC_EKS_CLUSTER, DEV_NAMESPACE, S3_BUCKET, EC2_INSTANCE]


def seed_templates(report, *, password: str) -> None:
    """The demo seed's templates (``manage.py seed_demo``): those missing are created."""
    for definition in TEMPLATES:
        if Template.objects.filter(pk=definition["id"]).exists():
            report.existing.append(f"template {definition['id']}")
            continue
        services.create_template(actor=None, **definition)
        report.created.append(f"template {definition['id']}")

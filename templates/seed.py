"""The templates seeded by `manage.py seed_demo`: the seed's EKS cluster and a dev namespace."""

EKS_REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1"]
EKS_INSTANCE_TYPES = [
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
nodeGroups:
  - name: ng-1
    instanceType: {{ instance_type }}
    desiredCapacity: {{ desired_capacity }}
    volumeSize: {{ volume_size }}
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
            },
            "cpu_limit": {
                "type": "integer",
                "description": "CPU cores in total.",
                "minimum": 1,
                "maximum": 16,
                "default": 2,
            },
            "memory_limit_gi": {
                "type": "integer",
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

TEMPLATES = [BASIC_EKS_CLUSTER, DEV_NAMESPACE]

"""The provisioning fixtures live in the root conftest.py, shared with the quotas tests."""

EKS_PARAMETERS = {"cluster_name": "team-a-dev", "region": "eu-west-1", "instance_type": "t3.medium"}

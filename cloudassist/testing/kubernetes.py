"""A shared-cluster kubeconfig for tests and benchmarks that never reach a cluster: it makes the
namespace provider count as configured (templates can be requested); its server does not exist."""

PLACEHOLDER_KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: shared, cluster: {server: "https://shared.cluster.invalid:6443"}}]
users: [{name: admin, user: {token: test}}]
contexts: [{name: shared, context: {cluster: shared, user: admin}}]
current-context: shared
"""

"""The ``kubernetes`` provider: a namespace on an existing shared cluster, for one request.

``create`` makes, in the namespace named by the ``namespace`` parameter: the Namespace itself,
a ServiceAccount, a Role with full rights over the common namespaced resources (and no
cluster-scoped rights), a RoleBinding of that Role to the ServiceAccount, a ResourceQuota and a
LimitRange from the template's parameters. It then mints a token for the ServiceAccount with the
TokenRequest API that expires with the request, and returns a kubeconfig scoped to the namespace.
``delete`` deletes the namespace, which takes everything in it along.

The shared cluster is the one in the kubeconfig named by ``SHARED_CLUSTER_KUBECONFIG`` (a file)
or given inline by ``SHARED_CLUSTER_KUBECONFIG_DATA``; ``SHARED_CLUSTER_CONTEXT`` picks a context.

Every object is built by a pure function (``build_*``), so tests can validate the
manifests with ``kubernetes-validate --strict``. A namespace is ours only when it carries the
``cloudassist-request`` label (and annotation) of this request: a namespace that exists for
another request, or without our label, is never adopted, changed or deleted.

The modules, each using only those above it:

- ``naming``: object names, labels and annotations, and the template's parameters.
- ``manifests``: the Kubernetes objects ``create`` applies, and the TokenRequest.
- ``kubeconfig``: the shared cluster's kubeconfig (read from the settings) and the requester's
  (written, with a token whose lifetime follows the request).
- ``client``: the API client for the shared cluster, and API errors mapped to ProviderErrors.
- ``provider``: the provider itself, registered as ``kubernetes``.
"""

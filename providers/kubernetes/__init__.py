"""The ``kubernetes`` plugin: a request's namespace on the shared cluster, holding the template's objects.

The template renders a list of Kubernetes objects (YAML documents), applied as written:

- exactly one ``Namespace`` (v1); its ``metadata.name`` is the request's namespace (a DNS label,
  not ``default`` nor ``kube-*``);
- namespaced objects of these kinds: ``ResourceQuota``, ``LimitRange``, ``ServiceAccount``,
  ``ConfigMap`` (v1), ``Role``, ``RoleBinding`` (rbac.authorization.k8s.io/v1), ``NetworkPolicy``
  (networking.k8s.io/v1). ``metadata`` takes ``name`` (required), ``namespace`` (optional: filled
  in with the Namespace's name, and refused if it names another), ``labels`` and ``annotations``;
  everything else of the object is checked with kubernetes-validate (strict, the offline
  Kubernetes 1.30 schemas) when the template is saved;
- at least one ResourceQuota whose ``spec.hard`` gives ``limits.cpu`` (else ``requests.cpu``, else
  ``cpu``), unscoped: the estimate (and the quota hold) is that CPU's share of the shared cluster's
  reference node (``SHARED_CLUSTER_NODE_TYPE`` in ``SHARED_CLUSTER_REGION``);
- anything else is refused at save naming ``body[i]...``: other kinds (Secret, Deployment...),
  cluster-scoped kinds (ClusterRole, ClusterRoleBinding, PersistentVolume, CRDs...), a second
  Namespace, a wrong apiVersion, duplicates, names of the plugin's own access objects.

The plugin adds, and lists in the plan: the request's labels and annotations on every object
(``app.kubernetes.io/managed-by: cloudassist``, ``cloudassist-request``, ``cloudassist-owner``), the
Namespace's ``pod-security.kubernetes.io/enforce`` label (``SHARED_CLUSTER_POD_SECURITY``, or the
template's if stricter), and the access objects of the requester's kubeconfig: a ServiceAccount
``cloudassist-<request suffix>``, the Role ``cloudassist-namespace-admin`` (full rights over the
common namespaced resources, read-only on quotas and limits, no RBAC, nothing cluster-scoped) and
its RoleBinding. ``create`` creates each object, or merge-patches it to the planned state when it
exists, mints a token for the ServiceAccount with the TokenRequest API that expires with the
request, and returns a kubeconfig scoped to the namespace. ``delete`` deletes the namespace, which
takes everything in it along. ``inventory`` lists namespaces labelled managed-by cloudassist,
``missing`` the planned objects that are gone, ``remove`` deletes an orphan namespace.

The shared cluster is the one in the kubeconfig named by ``SHARED_CLUSTER_KUBECONFIG`` (a file)
or given inline by ``SHARED_CLUSTER_KUBECONFIG_DATA``; ``SHARED_CLUSTER_CONTEXT`` picks a context.
A namespace is ours only when it carries the ``cloudassist-request`` label (and annotation) of this
request: a namespace that exists for another request, or without our label, is never adopted,
changed or deleted.

The modules, each using only those above it:

- ``naming``: object names, labels and annotations, and the namespace-name rules.
- ``objects``: the supported kinds, the document schema, the save-time checks, words and CPU.
- ``manifests``: what the plugin adds (access objects, tags, pod security) and the TokenRequest.
- ``kubeconfig``: the shared cluster's kubeconfig (read from the settings) and the requester's
  (written, with a token whose lifetime follows the request).
- ``client``: the API client for the shared cluster, and API errors mapped to ProviderErrors.
- ``provider``: the plugin itself, registered as ``kubernetes``.
"""

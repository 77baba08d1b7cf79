"""The built-in cluster's two demo people (issue 26), named as imc's OIDC mapping names them with its default prefix.

They have no token of their own: a client acts as one by impersonation from the admin (`kubectl --as
oidc:shop-dev@example.com`, or `--as someone --as-group oidc:shop-writers`; imc signed in sends
`Impersonate-User`/`Impersonate-Group`). Their rules are in `sim.apiserver.access.BINDINGS`. Every cluster the sim
serves has the same bindings; only the demo's first cluster (`sim`) has the namespaces they name, so in
`sim-beijing` they read ImageCaches and see no namespace's objects.
"""

from __future__ import annotations

OIDC_PREFIX = "oidc:"  # imc's default `--oidc-username-prefix`-like prefix of users and groups

# the writer: reads in shop, data and ml; patches and updates Deployments (and writes imc's audit Event) in shop
DEMO_WRITER_EMAIL = "shop-dev@example.com"
DEMO_WRITER_GROUP_CLAIM = "shop-writers"
DEMO_WRITER = OIDC_PREFIX + DEMO_WRITER_EMAIL
DEMO_WRITER_GROUP = OIDC_PREFIX + DEMO_WRITER_GROUP_CLAIM
DEMO_WRITER_NAMESPACE = "shop"
DEMO_WRITER_READS = ("shop", "data", "ml")

# the viewer: reads in shop only
DEMO_VIEWER_EMAIL = "viewer@example.com"
DEMO_VIEWER_GROUP_CLAIM = "viewers"
DEMO_VIEWER = OIDC_PREFIX + DEMO_VIEWER_EMAIL
DEMO_VIEWER_GROUP = OIDC_PREFIX + DEMO_VIEWER_GROUP_CLAIM
DEMO_VIEWER_READS = ("shop",)

from cloudassist import roles
from cloudassist.apps import ProjectAppConfig

# Pricing tables: DevOps see them; admins also correct them (sync_pricing refreshes them from AWS).
PRICING_VIEW = ("view_instanceprice", "view_diskprice", "view_serviceprice")
PRICING_EDIT = (
    "add_instanceprice",
    "change_instanceprice",
    "add_diskprice",
    "change_diskprice",
    "add_serviceprice",
    "change_serviceprice",
)
QUOTA_VIEW = ("view_quota", "view_usageledger")


class QuotasConfig(ProjectAppConfig):
    name = "quotas"
    role_permissions = {
        roles.ADMIN: (*PRICING_VIEW, *PRICING_EDIT, *QUOTA_VIEW, "add_quota", "change_quota"),
        roles.DEVOPS: (*PRICING_VIEW, *QUOTA_VIEW),
    }
    demo_seed = "quotas.pricing_seed.seed_demo_prices"

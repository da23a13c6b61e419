from cloudassist import roles
from cloudassist.apps import ProjectAppConfig


class TemplatesConfig(ProjectAppConfig):
    name = "templates"
    role_permissions = {
        roles.ADMIN: ("view_template", "add_template", "change_template"),
        roles.DEVOPS: ("view_template",),
    }
    demo_seed = "templates.seed.seed_templates"
    banner_lines = "templates.selectors.banner_lines"  # the templates that cannot be requested, and why

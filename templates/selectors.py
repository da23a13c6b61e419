from django.db.models import QuerySet

from cloudassist import roles
from templates.models import Template


def templates_for(user) -> QuerySet[Template]:
    """Admins see every template; everyone else only the active ones."""
    queryset = Template.objects.order_by("name", "id")  # created_by is a link: its id is enough
    if roles.is_admin(user):
        return queryset
    return queryset.filter(is_active=True)

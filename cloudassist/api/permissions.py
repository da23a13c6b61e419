from rest_framework.permissions import SAFE_METHODS, BasePermission

from cloudassist import roles


class IsAdminRole(BasePermission):
    """Members of the `admin` role and superusers."""

    message = "Only members of the admin role may do this."

    def has_permission(self, request, view) -> bool:
        return roles.is_admin(request.user)


class IsAdminOrReadOnly(IsAdminRole):
    """Everyone authenticated reads; admins write."""

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)

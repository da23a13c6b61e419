"""The core's API routes: users, roles and tokens (under /api/v1/, mounted by cloudassist/urls.py)."""

from django.urls import path

from cloudassist.api.routers import Router
from cloudassist.api.views import ApiTokenViewSet, LogoutView, RoleViewSet, TokenView, UserViewSet

router = Router()
router.register("users", UserViewSet, basename="user")
router.register("roles", RoleViewSet, basename="role")
router.register("auth/tokens", ApiTokenViewSet, basename="apitoken")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/logout/", LogoutView.as_view(), name="auth-logout"),
    *router.urls,
]

"""The core's API routes: users, roles and tokens (under /api/v1/, mounted by cloudassist/urls.py)."""

from django.urls import path

from cloudassist.api.routers import Router
from cloudassist.api.views import RoleViewSet, TokenView, UserViewSet

router = Router()
router.register("users", UserViewSet, basename="user")
router.register("roles", RoleViewSet, basename="role")

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    *router.urls,
]

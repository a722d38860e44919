"""Staff sign-in and sign-out (Django's auth views), with the shared sign-in rate limit."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from web.forms import LoginForm
from web.views.common import rate_limited


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    extra_context = {"nav": "login"}

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Counted per address and per user name tried, as the admin's sign-in (config/ratelimit.py).
        if refused := rate_limited(request, "login"):
            return refused
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's rule): a link cannot sign anyone out."""

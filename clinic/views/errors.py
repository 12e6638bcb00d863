from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A plain explanation instead of Django's debug-flavoured CSRF page."""
    return HttpResponse(render_to_string("403_csrf.html", request=request), status=403)

"""The production URLconf plus the benchmark's bare view (``benchmarks.settings`` only)."""

from django.urls import include, path

from benchmarks.pages import BARE_PATH
from benchmarks.views import bare

urlpatterns = [
    path(BARE_PATH.strip("/") + "/", bare, name="bench-bare"),
    path("", include("clinic.urls")),
]

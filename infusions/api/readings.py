"""The readings API."""

urlpatterns: list = []

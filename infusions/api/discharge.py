"""The discharge API."""

urlpatterns: list = []

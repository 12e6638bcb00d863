"""The ledger API."""

urlpatterns: list = []

"""The controlled-substance ledger's pages, under /staff/ledger/ (namespace "ledger")."""

app_name = "ledger"

urlpatterns: list = []

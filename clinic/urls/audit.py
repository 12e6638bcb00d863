"""The audit log, under /staff/audit/ in the "staff" namespace. Read-only: no other routes."""

from django.urls import path

from clinic.views import audit

urlpatterns = [
    path("", audit.audit_log, name="audit-log"),
]

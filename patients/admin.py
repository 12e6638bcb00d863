"""Django admin for patients: consent documents only, read-only.

Patient records are deliberately not registered. The admin is for clinic admins, who
may not see clinical detail (intakes, screening, measurements, questionnaires), and a
page read there would not be in the audit log; the staff area's patient list and chart
show each role what it may see and log every view.
"""

from django.contrib import admin

from clinic.admin import ViewOnlyAdmin
from patients.models import ConsentDocument


@admin.register(ConsentDocument)
class ConsentDocumentAdmin(ViewOnlyAdmin):
    list_display = ["title", "version", "published_at", "created_at"]
    fields = ["title", "version", "introduction", "sections", "published_at", "created_at"]

"""The vitals flowsheet (readings and their alerts) and the side effects and interventions
of the session screen. Readings, alerts and events are named by their public ids and only
ever fetched through their session."""

from django.urls import path

from infusions.views import flowsheet

urlpatterns = [
    path("<uuid:session_id>/flowsheet/", flowsheet.flowsheet_section, name="flowsheet"),
    path("<uuid:session_id>/readings/", flowsheet.reading_add, name="reading-add"),
    path(
        "<uuid:session_id>/readings/<uuid:reading_id>/error/",
        flowsheet.reading_error,
        name="reading-error",
    ),
    path(
        "<uuid:session_id>/alerts/<uuid:alert_id>/acknowledge/",
        flowsheet.alert_acknowledge,
        name="alert-acknowledge",
    ),
    path("<uuid:session_id>/events/", flowsheet.event_add, name="event-add"),
    path(
        "<uuid:session_id>/events/<uuid:event_id>/error/",
        flowsheet.event_error,
        name="event-error",
    ),
]

"""The admin's appointment list writes its rows through ``clinic.admin_rows``: the HTML must
be exactly Django's own (``admin_list.results``), for every list it writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags.admin_list import results
from django.urls import reverse

from clinic.admin_rows import result_rows
from scheduling.admin import AppointmentAdmin
from scheduling.models import AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location

TEN_AM = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def djangos_rows(cl) -> list[str]:
    return ["".join(row) for row in results(cl)]


def our_rows(cl) -> list[str]:
    return [row[0] for row in result_rows(cl)]


@pytest.fixture
def appointments(nina, phil):
    lakeview = clinic_location(name="Lakeview & Co <East>", staff=[nina, phil])
    return [
        AppointmentFactory(
            location=lakeview, chair=lakeview.chairs.first(), clinician=nina, starts_at=TEN_AM
        ),
        AppointmentFactory(
            location=lakeview,
            appointment_type=appointment_type("consultation"),
            clinician=phil,
            starts_at=TEN_AM + timedelta(hours=2, minutes=45),
        ),
        AppointmentFactory(
            location=lakeview,
            appointment_type=appointment_type("consultation"),
            starts_at=TEN_AM + timedelta(days=1),
            status=AppointmentStatus.CANCELLED,
            cancel_reason="Unwell",
        ),
    ]


@pytest.mark.parametrize(
    "query", [{}, {"status__exact": "booked"}, {"o": "-2"}, {"q": "", "source__exact": "staff"}]
)
def test_the_appointment_lists_rows_are_djangos_own(client, alice, appointments, query):
    client.force_login(alice)

    response = client.get("/admin/scheduling/appointment/", query)

    assert response.status_code == 200
    cl = response.context["cl"]
    assert our_rows(cl) == djangos_rows(cl)
    assert len(our_rows(cl)) == len(cl.result_list) > 0
    page = response.content.decode()
    for row in our_rows(cl):
        assert row in page
    assert "Lakeview &amp; Co &lt;East&gt;" in page
    if query.get("status__exact"):  # the link to each appointment keeps the list's filters
        assert "_changelist_filters=status__exact%3Dbooked" in our_rows(cl)[0]


def test_every_admin_list_it_writes_is_djangos_own(client, alice, appointments):
    client.force_login(alice)
    written = 0

    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = client.get(url)
        if response.status_code != 200 or response.context is None:
            continue
        cl = response.context.get("cl")
        if cl is None or result_rows(cl) is None:
            continue
        written += 1
        assert our_rows(cl) == djangos_rows(cl), model_admin

    assert written >= 5


def test_a_column_it_cannot_write_leaves_the_list_to_django(
    client, alice, appointments, monkeypatch
):
    def kind(appointment):
        return f"kind: {appointment.appointment_type.kind}"

    monkeypatch.setattr(AppointmentAdmin, "list_display", [*AppointmentAdmin.list_display, kind])
    client.force_login(alice)

    response = client.get("/admin/scheduling/appointment/")

    assert result_rows(response.context["cl"]) is None
    assert response.status_code == 200
    assert "kind: infusion" in response.content.decode()

"""Theft or significant loss: the incident starts the one-business-day clock for the DEA
field office notice; it stays open, and on the registrant's home page, until Form 106 is
filed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction

from infusions.losses import (
    incidents_for_registrant,
    loss_incident_report,
    loss_incident_step,
    next_business_day,
    notice_due_by,
)
from infusions.models import LossIncident, LossIncidentStep
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from scheduling.tests.factories import LocationFactory
from tests.clock import travel_to

INCIDENTS = "/staff/ledger/incidents/"


@pytest.fixture
def location(phil):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"), phil)


def report(nina, location, **fields) -> LossIncident:
    values = {
        "kind": "theft",
        "discovered_at": None,
        "description": "Two vials missing from the locked safe at the morning count.",
    } | fields
    return loss_incident_report(actor=nina, location=location, **values)


def refusal(caught: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(caught.value.message_dict[field])


@pytest.mark.parametrize(
    ("discovered", "due"),
    [
        (date(2026, 12, 3), date(2026, 12, 4)),  # Thursday -> Friday
        (date(2026, 12, 4), date(2026, 12, 7)),  # Friday -> Monday
        (date(2026, 12, 5), date(2026, 12, 7)),  # Saturday -> Monday
    ],
)
def test_the_notice_is_due_the_next_business_day(discovered, due):
    assert next_business_day(discovered) == due


def test_a_nurse_reports_a_theft_and_the_clock_starts(nina, location):
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=location.tz)
    travel_to(friday_evening + timedelta(hours=1))

    incident = report(nina, location, discovered_at=friday_evening)

    due = notice_due_by(incident)
    assert (due.date(), due.hour, due.tzinfo) == (date(2026, 12, 7), 23, location.tz)
    assert incident.reported_by == nina


def test_a_report_without_a_description_says_what_to_write(nina, location):
    with pytest.raises(ValidationError) as caught:
        report(nina, location, description=" ", kind="mislaid")

    assert "Describe what is missing" in refusal(caught, "description")
    assert "Choose what happened" in refusal(caught, "kind")
    assert not LossIncident.objects.exists()


def test_a_lot_of_another_location_is_refused(nina, location):
    other = receive(nina, LocationFactory(name="Hillside"))

    with pytest.raises(ValidationError) as caught:
        report(nina, location, lot=other, amount_mg="20")

    assert "another location" in refusal(caught, "lot")


def test_the_front_desk_cannot_report(fran, location):
    with pytest.raises(PermissionDenied):
        report(fran, location)


def test_form_106_follows_the_notice_and_closes_the_incident(nina, phil, location):
    incident = report(nina, location)

    with pytest.raises(ValidationError) as caught:
        loss_incident_step(actor=phil, incident=incident, step="form_106_filed", reference="X")
    assert "field office first" in refusal(caught, "step")
    assert incidents_for_registrant(phil) == [incident]

    loss_incident_step(
        actor=phil,
        incident=incident,
        step="field_office_notified",
        reference="Letter emailed to the Chicago Field Division",
    )
    assert incidents_for_registrant(phil) == [incident]
    loss_incident_step(actor=phil, incident=incident, step="form_106_filed", reference="F106-88")

    assert incidents_for_registrant(phil) == []
    with pytest.raises(ValidationError) as caught:
        loss_incident_step(actor=phil, incident=incident, step="form_106_filed", reference="Y")
    assert "recorded already" in refusal(caught, "step")


def test_a_nurse_cannot_record_the_dea_reports(nina, location):
    incident = report(nina, location)

    with pytest.raises(PermissionDenied):
        loss_incident_step(
            actor=nina, incident=incident, step="field_office_notified", reference="x"
        )


def test_incidents_are_append_only(nina, phil, location):
    incident = report(nina, location)
    loss_incident_step(actor=phil, incident=incident, step="field_office_notified", reference="L")

    for change in (
        lambda: LossIncident.objects.filter(pk=incident.pk).update(description="x"),
        lambda: LossIncident.objects.filter(pk=incident.pk).delete(),
        lambda: LossIncidentStep.objects.update(reference="y"),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()


def test_the_registrant_sees_it_on_the_home_page_until_closed(client, nina, phil, alice, location):
    incident = report(nina, location)
    client.force_login(phil)
    assert "you are the registrant" in client.get("/staff/").content.decode()
    client.force_login(alice)  # not the registrant
    assert "you are the registrant" not in client.get("/staff/").content.decode()

    loss_incident_step(actor=phil, incident=incident, step="field_office_notified", reference="L")
    loss_incident_step(actor=phil, incident=incident, step="form_106_filed", reference="F")
    client.force_login(phil)

    assert "you are the registrant" not in client.get("/staff/").content.decode()


def test_the_pages_report_and_close_an_incident(client, nina, phil, location):
    client.force_login(nina)
    response = client.post(
        INCIDENTS,
        {
            "location": str(location.public_id),
            "kind": "significant_loss",
            "description": "",
            "confirm": "on",
        },
    )
    assert response.status_code == 400
    assert "Describe what is missing" in response.content.decode()
    assert not LossIncident.objects.exists()

    response = client.post(
        INCIDENTS,
        {
            "location": str(location.public_id),
            "kind": "significant_loss",
            "description": "Count short by 100 mg.",
            "amount_mg": "100",
            "confirm": "on",
        },
        follow=True,
    )
    incident = LossIncident.objects.get()
    assert "notify the DEA field office in writing by" in response.content.decode()
    url = f"{INCIDENTS}{incident.public_id}/"
    assert client.post(url, {"step": "field_office_notified", "reference": "x"}).status_code == 403

    client.force_login(phil)
    client.post(url, {"step": "field_office_notified", "reference": "Letter to DEA Chicago"})
    page = client.post(url, {"step": "form_106_filed", "reference": "F106-1"}, follow=True)

    assert "Closed: DEA Form 106 is filed." in page.content.decode()
    assert "Closed: Form 106 filed" in client.get(INCIDENTS).content.decode()

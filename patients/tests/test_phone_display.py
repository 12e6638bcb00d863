"""Staff read patients' numbers as people write them: "(212) 555-0199" for the clinic's
country, "+44 20 7946 0958" for another; the link still dials the stored E.164."""

from __future__ import annotations

from patients.tests.factories import PatientFactory


def test_the_chart_shows_the_mobile_and_emergency_contact_nationally(client, nina):
    patient = PatientFactory(
        mobile="+12125550199",
        emergency_contact_name="Sam Rivera",
        emergency_contact_phone="+442079460958",
    )
    client.force_login(nina)

    content = client.get(f"/staff/patients/{patient.public_id}/").content.decode()

    assert '<a href="tel:+12125550199">(212) 555-0199</a>' in content
    assert '<a href="tel:+442079460958">+44 20 7946 0958</a>' in content


def test_the_patient_list_shows_the_mobile_nationally(client, fran):
    PatientFactory(mobile="+12125550199")
    client.force_login(fran)

    content = client.get("/staff/patients/").content.decode()

    assert "(212) 555-0199" in content
    assert "+12125550199" not in content

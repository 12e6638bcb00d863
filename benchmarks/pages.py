"""The pages the benchmark loads, and which record each one shows, found in the seeded data.

``key_pages()`` needs Django set up against a seeded database. Each page names the benchmark
account that opens it (``benchmarks.auth``) and any headers it is asked with (the flowsheet
fragment is what the session screen's htmx poll fetches).
"""

from __future__ import annotations

from dataclasses import dataclass, field

BARE_PATH = "/bench/bare/"


@dataclass(frozen=True)
class Page:
    key: str
    label: str
    path: str
    role: str  # a benchmarks.auth.BENCH_STAFF key, or "" for a public page
    headers: dict[str, str] = field(default_factory=dict)


def key_pages() -> list[Page]:
    """Every page the benchmark measures, in the order of the issue's table."""
    from django.db import connection
    from django.db.models import Count

    from clinic.models import Location
    from patients.models import Patient

    location = Location.objects.order_by("pk").first()
    with connection.cursor() as cursor:
        # A finished session with about 80 readings, the latest such.
        cursor.execute(
            """
            SELECT s.public_id FROM infusions_infusionsession s
            JOIN infusions_vitalsreading r ON r.session_id = s.id
            WHERE s.state = 'discharged'
            GROUP BY s.id HAVING COUNT(*) BETWEEN 78 AND 82
            ORDER BY s.started_at DESC LIMIT 1
            """
        )
        row = cursor.fetchone()
        if row is None:  # a tiny seed: the session with the most readings
            cursor.execute(
                """
                SELECT s.public_id FROM infusions_infusionsession s
                JOIN infusions_vitalsreading r ON r.session_id = s.id
                GROUP BY s.id ORDER BY COUNT(*) DESC, s.id LIMIT 1
                """
            )
            row = cursor.fetchone()
        session = row[0]
        # The busiest patient: the most appointments.
        cursor.execute(
            """
            SELECT p.public_id FROM patients_patient p
            JOIN scheduling_appointment a ON a.patient_id = p.id
            GROUP BY p.id ORDER BY COUNT(*) DESC, p.id LIMIT 1
            """
        )
        busy = cursor.fetchone()[0]
    surname = (
        Patient.objects.values("legal_last_name")
        .annotate(n=Count("id"))
        .order_by("-n", "legal_last_name")
        .first()["legal_last_name"]
    )
    htmx = {"HX-Request": "true"}
    board = f"/staff/schedule/?location={location.public_id}"
    return [
        Page("outcomes", "outcomes dashboard", "/staff/outcomes/", "physician"),
        Page("api_appointments", "API appointments", "/api/v1/appointments/", "physician"),
        Page("api_patients", "API patients", "/api/v1/patients/", "physician"),
        Page("session", "session page", f"/staff/sessions/{session}/", "nurse"),
        Page("week_board", "week board", f"{board}&view=week", "frontdesk"),
        Page("chart", "patient chart (busy)", f"/staff/patients/{busy}/", "physician"),
        Page("search", "patient search", f"/staff/patients/?q={surname}", "frontdesk"),
        Page("day_board", "day board", board, "frontdesk"),
        Page(
            "flowsheet",
            "flowsheet fragment",
            f"/staff/sessions/{session}/flowsheet/",
            "nurse",
            htmx,
        ),
        Page("slots", "public slot list", f"/book/{location.public_id}/", ""),
        Page("staff_home", "staff home", "/staff/", "frontdesk"),
        Page("faq", "FAQ", "/faq/", ""),
        Page("admin_appointments", "admin appointments", "/admin/scheduling/appointment/", "admin"),
        Page("bare", "bare view", BARE_PATH, "frontdesk"),
    ]

"""The clinic admin's data export page: start, watch, download, cancel."""

from __future__ import annotations

import pytest
from django.utils import timezone

from interop.fhir import bulk
from interop.models import ExportJob, ExportStatus

pytestmark = pytest.mark.django_db

PAGE = "/staff/data-export/"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.FHIR_EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def worker(monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(bulk.run_fhir_export, "delay", bulk.run_fhir_export)
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_the_page_explains_the_export_and_has_an_empty_state(client, alice):
    client.force_login(alice)

    page = client.get(PAGE).content.decode()

    assert "FHIR R4" in page
    assert 'data-testid="empty-state"' in page
    assert "You have not exported the clinic's records yet." in page
    assert ">Start an export</button>" in page
    assert 'href="/staff/data-export/"' in page  # in the admin menu


def test_the_button_starts_an_export_and_the_page_shows_its_progress(client, alice):
    client.force_login(alice)

    response = client.post(PAGE, follow=True)

    page = response.content.decode()
    assert "The export has started." in page
    job = ExportJob.objects.get()
    assert job.requested_by == alice
    assert 'role="progressbar"' in page
    assert 'aria-valuenow="0"' in page
    assert 'hx-trigger="every 5s"' in page  # it refreshes itself while the export runs
    assert "disabled" in page  # one at a time
    part = client.get(PAGE + "?part=jobs").content.decode()
    assert part.lstrip().startswith("<section")


def test_a_second_start_is_refused_with_a_reason(client, alice):
    client.force_login(alice)
    client.post(PAGE)

    page = client.post(PAGE, follow=True).content.decode()

    assert "An export is already under way." in page
    assert ExportJob.objects.count() == 1


def test_a_finished_export_lists_its_files_to_download(client, alice, amara, worker):
    client.force_login(alice)

    with worker():
        client.post(PAGE)

    page = client.get(PAGE).content.decode()
    job = ExportJob.objects.get()
    assert f'href="/fhir/R4/$export-files/{job.public_id}/Patient.ndjson"' in page
    assert "Ready to download" in page
    assert 'hx-trigger="every 5s"' not in page
    assert client.get(f"/fhir/R4/$export-files/{job.public_id}/Patient.ndjson").status_code == 200


def test_cancelling_asks_first_then_deletes_the_files(client, alice, amara, worker):
    client.force_login(alice)
    with worker():
        client.post(PAGE)
    job = ExportJob.objects.get()
    url = f"/staff/data-export/{job.public_id}/cancel/"

    confirmation = client.get(url)
    assert "Delete the export's files?" in confirmation.content.decode()
    assert ExportJob.objects.get().status == ExportStatus.COMPLETED

    with worker():
        page = client.post(url, follow=True).content.decode()

    assert "The export is cancelled and its files are deleted." in page
    assert ExportJob.objects.get().status == ExportStatus.CANCELLED
    assert not job.files.exists()


@pytest.mark.parametrize("persona", ["fran", "nina", "phil"])
def test_the_page_is_for_clinic_admins_only(request, client, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE).status_code == 403
    assert not ExportJob.objects.exists()


def test_the_page_runs_the_same_queries_for_one_export_or_many(
    client, alice, django_assert_num_queries
):
    def finished_export():
        job = ExportJob.objects.create(
            requested_by=alice,
            status=ExportStatus.COMPLETED,
            progress=100,
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        job.files.create(resource_type="Patient", count=3)

    client.force_login(alice)
    finished_export()
    client.get(PAGE)
    with django_assert_num_queries(7) as one:  # 7: the check for an export whose worker died
        client.get(PAGE)
    for _ in range(4):
        finished_export()

    with django_assert_num_queries(len(one.captured_queries)):
        page = client.get(PAGE).content.decode()

    assert page.count('data-testid="export-row"') == 5

"""Notes of writes to whole tables (clinic.fragments.writes_of, clinic.models.TableWrite):
every committed write to a noted table gives a new version, by any path, and writers
never wait on each other for the notes."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from clinic.fragments import rows_version, writes_of
from clinic.models import TableWrite
from patients.models import Patient
from patients.tests.factories import PatientFactory


def version() -> str:
    return rows_version(writes_of(Patient))


def test_every_insert_update_and_delete_makes_a_new_version_even_in_one_transaction(db):
    seen = [version()]

    patient = PatientFactory()
    seen.append(version())
    Patient.objects.filter(pk=patient.pk).update(legal_first_name="Jo")
    seen.append(version())
    with connection.cursor() as cursor:  # SQL by hand is noted too
        cursor.execute("UPDATE patients_patient SET legal_first_name = 'Joe'")
    seen.append(version())
    Patient.objects.filter(pk=patient.pk).delete()
    seen.append(version())

    assert len(set(seen)) == len(seen)


def test_the_version_stays_while_the_table_is_not_written(db):
    PatientFactory()
    before = version()

    Patient.objects.filter(legal_first_name="nobody by this name").exists()

    assert version() == before


def test_a_table_keeps_one_note_however_often_it_is_written(db):
    for _ in range(5):
        PatientFactory()

    assert TableWrite.objects.filter(table_name="patients_patient").count() == 1


def test_the_versions_of_two_tables_are_apart(db):
    from outcomes.models import PatientOutcomeFacts

    facts = rows_version(writes_of(PatientOutcomeFacts))

    PatientFactory()

    assert rows_version(writes_of(PatientOutcomeFacts)) == facts


@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_do_not_wait_for_each_other(transactional_db):
    PatientFactory()  # a note, committed, that both writers will want to delete
    first_wrote = threading.Event()
    second_done = threading.Event()
    failures: list[BaseException] = []

    def first_writer() -> None:
        try:
            with transaction.atomic():
                PatientFactory()
                first_wrote.set()
                assert second_done.wait(timeout=10), "the second writer waited"
        except BaseException as failure:  # reported below
            failures.append(failure)
            first_wrote.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=first_writer)
    thread.start()
    assert first_wrote.wait(timeout=10)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
        PatientFactory()  # would wait on the first writer's lock without SKIP LOCKED
    second_done.set()
    thread.join(timeout=20)
    before_both = version()

    assert failures == []
    assert Patient.objects.count() == 3
    assert TableWrite.objects.filter(table_name="patients_patient").count() <= 2
    PatientFactory()
    assert version() != before_both
    connection.close()

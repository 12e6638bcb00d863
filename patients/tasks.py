"""Background work about patients: thin wrappers around the services."""

from celery import shared_task

from patients.followups import followups_enqueue_due


@shared_task
def enqueue_due_followups() -> int:
    """Run daily by beat: queue the questionnaires due up to each location's tomorrow.
    Idempotent (each message has its key), so a second run, or a retry, queues nothing
    twice. Returns how many messages were new."""
    return followups_enqueue_due()

"""Background work for the outcomes dashboard: thin wrappers around ``outcomes.facts``."""

from celery import shared_task

from outcomes.facts import outcome_facts_refresh


@shared_task
def refresh_outcome_facts() -> int:
    """Run by beat every OUTCOME_FACTS_REFRESH_MINUTES: count every patient's outcome
    facts again. Idempotent (it replaces them all); returns how many patients have facts."""
    return outcome_facts_refresh()

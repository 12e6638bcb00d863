"""Background work about billing: thin wrappers around the services."""

from celery import shared_task

from billing.deposits import booking_holds_release_expired


@shared_task
def release_expired_booking_holds() -> int:
    """Run by beat: release the times booked online whose card or deposit never came (Stripe
    is asked once more first). Running it twice releases nothing twice."""
    return booking_holds_release_expired()

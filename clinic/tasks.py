from celery import shared_task
from django.utils import timezone

from clinic.account_emails import password_email_send
from clinic.messaging.outbox import outbox_dispatch, outbox_send
from clinic.models import Heartbeat


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    """Run by beat every minute; the admin home warns when it stops arriving."""
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


@shared_task
def dispatch_outbox() -> int:
    """Run by beat every minute: claim the due outbox messages, queue a send for each."""
    return outbox_dispatch()


# acks_late: the task is acknowledged only when it has run, so a worker that dies mid-send
# does not lose it; reject_on_worker_lost: a pool process killed mid-task puts it back in
# the queue. Either way it runs again with the same claim token, and outbox_send sends only
# while that token is still the row's. A task Redis loses anyway is recovered by the lease.
@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_outbox_message(message_id: int, claim_token: str) -> str:
    return outbox_send(message_id, claim_token)


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_email(member_id: int, kind: str, actor_id: int | None, base_url: str) -> bool:
    """An invitation, new set-password link or reset link (clinic.account_emails)."""
    return password_email_send(member_id=member_id, kind=kind, actor_id=actor_id, base_url=base_url)

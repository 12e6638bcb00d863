from celery import shared_task
from django.utils import timezone

from clinic.models import Heartbeat


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    """Run by beat every minute; the admin home warns when it stops arriving."""
    Heartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})

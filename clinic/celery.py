"""The Celery application. Tasks stay thin: they take ids, load rows and call a service."""

import os
from typing import Any

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("chairside")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _heartbeat_at_start(sender: Any, **kwargs: Any) -> None:
    # Beat first runs an every-minute entry a minute after it starts; without this the admin
    # home would say "not reported in yet" for the first minute of every `make run`.
    app.send_task("clinic.tasks.record_heartbeat")

"""Celery application. Broker from settings (environment); with none, tasks run eagerly."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("compute_market")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""The Celery application: Redis broker, tasks discovered in the apps, request ids carried into tasks."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from config import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("concerto")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

before_task_publish.connect(observability.celery_before_publish, weak=False)
task_prerun.connect(observability.celery_task_prerun, weak=False)
task_postrun.connect(observability.celery_task_postrun, weak=False)

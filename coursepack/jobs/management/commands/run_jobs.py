"""The background-job worker that `make run` starts beside the server.

    manage.py run_jobs [--settle-every SECONDS]

On start it queues again every job a stopped worker left unfinished (they
resume after their last committed chunk); then it runs django-tasks' database
worker, and every ``--settle-every`` seconds (default 60) queues the periodic
task that lets due scheduled versions take effect, a full audit verification
when the last one is older than ``AUDIT_VERIFY_EVERY_HOURS``, and every
NOTIFICATIONS_RUN_EVERY_SECONDS (default an hour; 0: never) a reminder run, and
every WEBHOOK_POLL_SECONDS, when webhooks have events to send, their delivery.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connection

from coursepack.integrations import webhooks
from coursepack.integrations.tasks import deliver_webhooks_task
from coursepack.jobs import api as jobs
from coursepack.jobs.tasks import reminders_task, settle_schedules_task


class Command(BaseCommand):
    help = (
        "Run the background-job worker (resumes unfinished jobs; settles schedules periodically)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--settle-every", type=float, default=60.0)
        parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
        parser.add_argument(
            "--batch", action="store_true", help="run what is queued, then exit (tests)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        resumed = jobs.resume_unfinished()
        if resumed:
            self.stderr.write(f"Resuming job(s) {', '.join(map(str, resumed))}.")
        stop = threading.Event()

        def settle_periodically() -> None:
            while not stop.wait(options["settle_every"]):
                try:
                    settle_schedules_task.enqueue()
                    # A full audit verification when the last one is older than
                    # AUDIT_VERIFY_EVERY_HOURS (pages check only what came since).
                    jobs.schedule_audit_verify()
                finally:
                    close_old_connections()
            connection.close()

        def remind_periodically(every: float) -> None:
            while not stop.wait(every):
                try:
                    reminders_task.enqueue()
                finally:
                    close_old_connections()
            connection.close()

        def deliver_periodically(every: float) -> None:
            while not stop.wait(every):
                try:
                    if webhooks.deliveries_due():
                        deliver_webhooks_task.enqueue()
                finally:
                    close_old_connections()
            connection.close()

        every = float(settings.NOTIFICATIONS_RUN_EVERY_SECONDS)
        if not options["batch"]:
            threading.Thread(
                target=deliver_periodically,
                args=(float(settings.WEBHOOK_POLL_SECONDS),),
                daemon=True,
                name="webhooks",
            ).start()
            threading.Thread(target=settle_periodically, daemon=True, name="settle").start()
            if every > 0:
                threading.Thread(
                    target=remind_periodically, args=(every,), daemon=True, name="remind"
                ).start()
        else:
            settle_schedules_task.enqueue()
            if webhooks.deliveries_due():
                deliver_webhooks_task.enqueue()
        try:
            call_command(
                "db_worker",
                queue_name="*",
                interval=options["interval"],
                batch=options["batch"],
                startup_delay=False,
            )
        finally:
            stop.set()

"""Open every certification period whose recertification window has opened.

    manage.py open_certification_periods

Run it periodically (e.g. hourly from cron or a task worker). Standings are right
without it — they are derived from the stored dates at read time — but the new
period is the enrollment the learner works on and is reminded about.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from coursepack.learning import api as learning


class Command(BaseCommand):
    help = "Open the certification periods whose recertification window has opened."

    def handle(self, *args: Any, **options: Any) -> None:
        opened = learning.open_certification_periods(actor=None)
        self.stdout.write(f"Opened {opened} certification period(s).")

"""Print a signed checkpoint of the audit chain's head, to store outside the database.

    manage.py audit_checkpoint > checkpoints/$(date +%F).json

Store it somewhere the database's writers cannot reach (another machine, a
ticket, a printed page). ``manage.py verify_audit --checkpoint FILE`` later
proves the chain still passes through that record with that hash: a chain
rewritten before it — even by someone holding the audit key — does not.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand

from coursepack.audit.api import signed_checkpoint


class Command(BaseCommand):
    help = "Print the audit chain's head, signed with the audit key, as JSON."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(json.dumps(signed_checkpoint(), indent=2))

"""Start a background job and follow it with a progress bar.

    manage.py start_job bulk_enroll --package 3 --all-learners [--atomic] [--actor NAME]
    manage.py start_job bulk_enroll --package 3 --learner-ids 7,8,9
    manage.py start_job rebuild_statuses
    manage.py start_job audit_verify
    manage.py start_job publish --draft 9 --policy move_in_progress --notes "why"
    manage.py start_job --watch 12           # follow an existing job

The worker (`manage.py run_jobs`, started by `make run`) does the work; this
command only queues it and shows its progress (``--detach`` to return at once).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from coursepack.audit import api as audit
from coursepack.errors import DomainError
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors


class Command(BaseCommand):
    help = (
        "Queue a background job (bulk_enroll, rebuild_statuses, audit_verify, publish with "
        "moves) and show its progress."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "kind",
            nargs="?",
            choices=["bulk_enroll", "rebuild_statuses", "audit_verify", "publish"],
        )
        parser.add_argument("--draft", type=int, help="the draft version id to publish (publish)")
        parser.add_argument(
            "--policy",
            default="keep",
            choices=["keep", "move_not_started", "move_in_progress"],
            help="what happens to enrolled learners (publish)",
        )
        parser.add_argument("--package", type=int)
        parser.add_argument("--all-learners", action="store_true")
        parser.add_argument("--learner-ids", default="", help="comma-separated learner ids")
        parser.add_argument(
            "--atomic", action="store_true", help="all or nothing (one transaction)"
        )
        parser.add_argument("--notes", default="")
        parser.add_argument("--actor", default=None, help="who runs this (default: the OS user)")
        parser.add_argument("--watch", type=int, default=None, help="follow job ID")
        parser.add_argument("--detach", action="store_true", help="queue and return")
        parser.add_argument("--timeout", type=float, default=24 * 3600)

    def handle(self, *args: Any, **options: Any) -> None:
        job_id = options["watch"]
        if job_id is None:
            job_id = self._start(options)
            if job_id is None:
                return
            self.stdout.write(f"Job {job_id} queued.")
            if options["detach"]:
                return
        self._follow(job_id, options)

    def _start(self, options: dict[str, Any]) -> int | None:
        try:
            actor = audit.operator(options["actor"])
            if options["kind"] == "rebuild_statuses":
                return jobs.start_rebuild(actor=actor).pk
            if options["kind"] == "audit_verify":
                return jobs.start_audit_verify(actor=actor).pk
            if options["kind"] == "publish":
                return self._publish(actor, options)
            if options["kind"] != "bulk_enroll" or options["package"] is None:
                raise CommandError("Say what to do: bulk_enroll --package N, or rebuild_statuses.")
            ids = [int(i) for i in options["learner_ids"].split(",") if i.strip()]
            return jobs.start_bulk_enroll(
                actor=actor,
                package_id=options["package"],
                learner_ids=None if options["all_learners"] else ids,
                all_learners=options["all_learners"],
                notes=options["notes"],
                atomic=options["atomic"],
            ).pk
        except (DomainError, LookupError, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _publish(self, actor: audit.Actor, options: dict[str, Any]) -> int | None:
        if options["draft"] is None:
            raise CommandError("Say which draft to publish: publish --draft N.")
        started = jobs.start_publish(
            actor=actor,
            version_id=options["draft"],
            change_notes=options["notes"],
            inflight_policy=options["policy"],
            background=True,
        )
        v = started.outcome.version
        self.stdout.write(f"Version {v.version_number} of {v.name!r} is published.")
        if started.moves_job is None:
            self.stdout.write("Nobody to move.")
            return None
        return started.moves_job.pk

    def _follow(self, job_id: int, options: dict[str, Any]) -> None:
        try:
            progress = selectors.job_progress(job_id)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        deadline = time.monotonic() + options["timeout"]
        stream = options.get("stderr") or sys.stderr
        with tqdm(total=progress.total, desc=f"Job {job_id}", unit="item", file=stream) as bar:
            while True:
                progress = selectors.job_progress(job_id)
                bar.total = progress.total
                bar.n = progress.done
                bar.refresh()
                if progress.status in ("succeeded", "failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        self.stdout.write(f"Job {job_id} {progress.status}: {progress.result}")
        if progress.status == "failed":
            raise CommandError(f"Job {job_id} failed: {progress.error}")

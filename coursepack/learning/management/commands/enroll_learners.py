"""Enrol many learners in a package's active version, a committed chunk at a time.

    manage.py enroll_learners --package 12 --learners-file people.txt
    manage.py enroll_learners --package 12 --all-learners [--atomic]

Each chunk (``--chunk-size``, 2000) is one transaction with its own audit
record, so the write lock is held briefly and other writes interleave; run it
again after an interruption and the learners already enrolled are skipped.
``--atomic`` makes it all one transaction (all or nothing; every other write
waits until it ends). The same work as a background job: ``manage.py start_job``.

The file has one username or user id per line (blank lines and lines starting
with ``#`` are skipped). It is streamed: usernames are resolved a chunk at a
time, so a file of any size needs flat memory. A progress bar goes to stderr;
the summary goes to stdout.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from tqdm import tqdm

from coursepack.accounts.models import Role
from coursepack.audit import api as audit
from coursepack.errors import DomainError
from coursepack.learning import api as learning

#: How many unknown names or ids the summary lists before it only counts them.
_LISTED = 20


def _lines(handle: TextIO) -> Iterator[str]:
    for raw in handle:
        line = raw.strip()
        if line and not line.startswith("#"):
            yield line


def _learner_ids(lines: Iterator[str], chunk_size: int, unknown: list[str]) -> Iterator[int]:
    """Yield the user id each line names, in file order; collect names that match no one.

    A line is a username if a user has it, else an id if it is a whole number
    (small enough to be one: a longer run of digits is reported as unknown).
    """
    User = get_user_model()
    field = User.USERNAME_FIELD
    while chunk := list(islice(lines, chunk_size)):
        by_name = dict(User.objects.filter(**{f"{field}__in": chunk}).values_list(field, "pk"))
        for line in chunk:
            if line in by_name:
                yield by_name[line]
            elif line.isascii() and line.isdecimal() and len(line) <= 18:
                yield int(line)
            else:
                unknown.append(line)


def _advance(bar: tqdm[Any], n: int) -> None:
    bar.update(n)


def _batches(ids: Iterator[int], size: int) -> Iterator[list[int]]:
    """Yield the ids ``size`` at a time, each id once (a repeat in a later chunk would
    otherwise count as already enrolled)."""
    seen: set[int] = set()
    while batch := list(islice(ids, size)):
        fresh = [i for i in dict.fromkeys(batch) if i not in seen]
        seen.update(fresh)
        if fresh:
            yield fresh


def _paged_ids(learners: Any, size: int) -> Iterator[int]:
    """Yield the learners' ids page by page (by id), each page its own query: no cursor
    stays open across the chunks' commits."""
    last = 0
    while page := list(learners.filter(pk__gt=last).values_list("pk", flat=True)[:size]):
        yield from page
        last = page[-1]


class Command(BaseCommand):
    help = (
        "Enrol learners in a package's active version: from a file of usernames or ids "
        "(one per line), or every active learner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--package", type=int, required=True, help="id of the package")
        who = parser.add_mutually_exclusive_group(required=True)
        who.add_argument(
            "--learners-file",
            type=Path,
            help="file with one username or user id per line ('-' for stdin)",
        )
        who.add_argument(
            "--all-learners",
            action="store_true",
            help="every active user whose role is learner",
        )
        parser.add_argument(
            "--actor",
            help="the Coursepack user running this, for the audit log (default: the OS user)",
        )
        parser.add_argument("--notes", default="", help="notes for the audit log")
        parser.add_argument("--chunk-size", type=int, default=2000)
        parser.add_argument(
            "--atomic",
            action="store_true",
            help="one transaction for everything (holds the write lock until done)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        try:
            actor = audit.operator(options["actor"])
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        chunk_size: int = options["chunk_size"]
        if chunk_size < 1:
            raise CommandError("--chunk-size must be 1 or more.")
        unknown_names: list[str] = []
        path: Path | None = options["learners_file"]
        handle: TextIO | None = None
        if path is not None:
            total = None
            if str(path) == "-":
                handle = sys.stdin
            else:
                try:
                    # utf-8-sig: files saved by spreadsheet tools often start with a BOM.
                    handle = path.open(encoding="utf-8-sig")
                except OSError as exc:
                    raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
            ids: Iterator[int] = _learner_ids(_lines(handle), chunk_size, unknown_names)
        else:
            # The learners as accounts.api.role_of sees them: an account with the
            # learner role, or no account and not a superuser.
            learners = (
                User.objects.filter(is_active=True)
                .filter(Q(account__role=Role.LEARNER) | Q(account__isnull=True, is_superuser=False))
                .order_by("pk")
            )
            total = learners.count()
            ids = _paged_ids(learners, chunk_size)
        # tqdm rewrites its line with "\r": give it the raw stream, not Django's
        # OutputWrapper, which would end every write with a newline.
        stream = options.get("stderr") or sys.stderr
        try:
            with tqdm(
                total=total,
                unit="learner",
                desc="Enrolling",
                file=stream,
                disable=options["no_progress"],
            ) as bar:
                batches = [ids] if options["atomic"] else _batches(ids, chunk_size)
                result = None
                for batch in batches:
                    done = learning.bulk_enroll(
                        actor=actor,
                        package_id=options["package"],
                        learner_ids=batch,
                        notes=options["notes"],
                        progress=lambda n: _advance(bar, n),
                        chunk_size=chunk_size,
                    )
                    if result is None:
                        result = done
                    else:
                        result.enrolled += done.enrolled
                        result.already_enrolled += done.already_enrolled
                        result.unknown_learners += done.unknown_learners
                if result is None:
                    # Nobody to enrol: still check the package can take enrolments.
                    result = learning.bulk_enroll(
                        actor=actor, package_id=options["package"], learner_ids=[]
                    )
        except DomainError as exc:
            raise CommandError(str(exc)) from None
        finally:
            if handle is not None and handle is not sys.stdin:
                handle.close()
        version = result.version
        self.stdout.write(
            f"Enrolled {result.enrolled} learner(s) in {version.name!r} v{version.version_number}."
        )
        if result.already_enrolled:
            self.stdout.write(f"Already enrolled: {len(result.already_enrolled)}.")
        unknown = [*unknown_names, *map(str, result.unknown_learners)]
        if unknown:
            listed = ", ".join(unknown[:_LISTED])
            more = f" and {len(unknown) - _LISTED} more" if len(unknown) > _LISTED else ""
            self.stdout.write(f"Unknown learners: {len(unknown)} ({listed}{more}).")

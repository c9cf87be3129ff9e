"""CPU time of recording one completion through the service, on the database
DATABASE_URL names (it WRITES: use a throwaway copy).

    DATABASE_URL=sqlite:////tmp/copy.sqlite3 COURSEPACK_DEBUG=0 \
        .tools/bin/uv run --frozen --no-sync python scripts/time_completion_cpu.py [--count 300]

Records ``--count`` completions (after 20 not timed), each of a course in the learner's
version, for open enrollments picked with a fixed seed, and prints the median and
mean process CPU time per call (``time.process_time``: this process only, so the
other work on a shared machine inflates it less than wall time). Run on two copies
of one database, with and without a change to the write path, to compare.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coursepack.settings")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from coursepack.learning import api as learning  # noqa: E402
from coursepack.learning.models import Enrollment  # noqa: E402
from coursepack.packaging import selectors as packaging  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    ids = list(
        Enrollment.objects.filter(withdrawn_at__isnull=True, superseded_at__isnull=True)
        .order_by("pk")
        .values_list("pk", "learner_id", "version_id")
    )
    picks = rng.sample(ids, args.count + 20)
    spent = []
    for n, (_, learner_id, version_id) in enumerate(picks):
        course_id = rng.choice(sorted(packaging.version_course_ids(version_id)))
        started = time.process_time()
        learning.record_completion(actor=admin, learner_id=learner_id, course_id=course_id)
        if n >= 20:
            spent.append(time.process_time() - started)
    print(
        f"{len(spent)} completions: CPU per call median {statistics.median(spent) * 1000:.2f} ms, "
        f"mean {statistics.mean(spent) * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()

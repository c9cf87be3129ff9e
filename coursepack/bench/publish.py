"""Benchmark: publish a new version with many learners on the old one, against the same
publish with none (each run rolled back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from coursepack.bench.measure import Row, ratio, rolled_back, timed
from coursepack.bench.scales import EMPTY_PACKAGE, LOADED_PACKAGE
from coursepack.learning.models import Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging import selectors as packaging_selectors
from coursepack.packaging.models import Package

if TYPE_CHECKING:
    from coursepack.bench.runner import Runner

__all__ = ["publish"]


def publish(runner: Runner) -> list[Row]:
    loaded, empty = runner.packages[LOADED_PACKAGE], runner.packages[EMPTY_PACKAGE]
    now = timezone.now()
    on_loaded = {}
    for package in (loaded, empty):
        active = packaging_selectors.active_version(package.pk, now)
        if active is None:
            raise RuntimeError(f"{package.name} has no active version")
        on_loaded[package.pk] = (
            active.pk,
            Enrollment.objects.filter(version=active, withdrawn_at__isnull=True).count(),
        )

    def publish_once(package: Package) -> float:
        with rolled_back():
            draft = packaging.create_draft_from(
                actor=runner.admin, version_id=on_loaded[package.pk][0]
            )
            return timed(
                lambda: packaging.publish_version(
                    actor=runner.admin, version_id=draft.pk, inflight_policy="keep"
                )
            )

    times: list[float] = []
    floor: list[float] = []
    for index in range(runner.plan.publishes + runner.plan.warmup):
        took_loaded, took_empty = publish_once(loaded), publish_once(empty)
        if index >= runner.plan.warmup:
            times.append(took_loaded)
            floor.append(took_empty)
    op = Row.of(
        f"publish a new version, {on_loaded[loaded.pk][1]:,} learners on the old one",
        times,
        note="policy keep; rolled back",
    )
    base = Row.of(f"the same publish with {on_loaded[empty.pk][1]} learners", floor, floor=True)
    op.ratio = ratio(op.median, base.median)
    op.target, op.passed = "ratio <=1.2", op.ratio is not None and op.ratio <= 1.2
    return [op, base]

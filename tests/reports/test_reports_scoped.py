"""A manager's reports count their people only (ADR 0024, 0034): the hand-built
history of reports_dataset, with Ann, Ben, Eve and Gus placed in the unit the manager
manages and everyone else elsewhere. Whole-day ranges (which the summaries answer for
admins) and past timelines are scoped too."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from reports_dataset import Dataset, noon

from coursepack.accounts import api as accounts
from coursepack.organisation import api as organisation
from coursepack.reports import selectors
from coursepack.reports.scope import for_viewer
from coursepack.reports.selectors import StatusCounts
from tests.factories import make_admin, make_learner

TEAM = ("ann", "ben", "eve", "gus")
Q1 = {"date_from": date(2024, 1, 1), "date_to": date(2024, 4, 1)}


@pytest.fixture
def manager(dataset: Dataset) -> Any:
    """Manages "team" (Ann, Ben, Eve, Gus); the others work in "elsewhere"."""
    admin = make_admin()
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    team = organisation.create_unit(actor=admin, code="TEAM", name="Team", parent_id=company.pk)
    elsewhere = organisation.create_unit(
        actor=admin, code="ELSE", name="Else", parent_id=company.pk
    )
    for name, learner in dataset.learners.items():
        unit = team if name in TEAM else elsewhere
        organisation.place_person(actor=admin, user_id=learner.pk, org_unit_id=unit.pk)
    boss = make_learner(username="boss")
    organisation.set_unit_managers(actor=admin, unit_id=company.pk, user_ids=[boss.pk])
    # The company's manager manages the team only from now on: a deeper unit.
    organisation.set_unit_managers(actor=admin, unit_id=company.pk, user_ids=[])
    organisation.set_unit_managers(actor=admin, unit_id=team.pk, user_ids=[boss.pk])
    assert accounts.role_of(boss) == "manager"
    return boss


def _totals(report: list[selectors.PackageRow], package_id: int) -> StatusCounts:
    (row,) = [p for p in report if p.package_id == package_id]
    return row.totals


def test_a_managers_package_report_counts_their_people_only(dataset: Dataset, manager: Any) -> None:
    everyone = selectors.make_filters()
    mine = for_viewer(everyone, manager)

    report = selectors.package_report(mine)

    assert mine.scoped and not for_viewer(everyone, make_admin()).scoped
    # Safety v1: Ann completed, Ben in progress, Gus completed, Eve withdrawn.
    assert _totals(report, dataset.safety_id) == StatusCounts(
        enrolled=3, withdrawn=1, not_started=0, in_progress=1, completed=2, completed_in_range=2
    )
    # Privacy v1: Ann completed, Ben not started.
    assert _totals(report, dataset.privacy_id) == StatusCounts(
        enrolled=2, withdrawn=0, not_started=1, in_progress=0, completed=1, completed_in_range=1
    )
    assert _totals(selectors.package_report(everyone), dataset.safety_id).enrolled == 8


def test_whole_days_are_scoped_too_though_admins_read_them_from_the_summaries(
    dataset: Dataset, manager: Any
) -> None:
    mine = for_viewer(selectors.make_filters(**Q1), manager)

    report = selectors.package_report(mine)

    # Begun in Q1: Ann and Ben (Eve's withdrawn); Gus enrolled in December. Completed in
    # Q1, whenever enrolled: Ann (02-10) and Gus (03-10).
    assert _totals(report, dataset.safety_id) == StatusCounts(
        enrolled=2, withdrawn=1, not_started=0, in_progress=1, completed=1, completed_in_range=2
    )
    assert _totals(report, dataset.privacy_id) == StatusCounts(
        enrolled=2, withdrawn=0, not_started=1, in_progress=0, completed=1, completed_in_range=1
    )
    over_time = selectors.completions_over_time(mine)
    assert sum(sum(s.counts) for s in over_time.series) == 3


def test_the_learner_and_course_reports_hold_only_the_managers_people(
    dataset: Dataset, manager: Any
) -> None:
    team_ids = {dataset.learners[n].pk for n in TEAM}
    for filters in (
        selectors.make_filters(),
        selectors.make_filters(**Q1),
        # A past timeline, worked out from the events as the transcripts are.
        selectors.make_filters(as_of=noon(2024, 2, 15)),
        selectors.make_filters(as_of=noon(2024, 2, 15), known_at=noon(2024, 2, 15)),
    ):
        mine = for_viewer(filters, manager)
        everyone = list(selectors.learner_rows(filters))
        rows = list(selectors.learner_rows(mine))
        assert rows == [r for r in everyone if r.learner_id in team_ids], filters
        assert selectors.learner_count(mine) == len(rows)
        page = list(selectors.learner_rows(mine, offset=1, limit=2))
        assert page == rows[1:3]
    courses = {
        c.code: c for c in selectors.course_report(for_viewer(selectors.make_filters(), manager))
    }
    a, b = dataset.courses["A"].code, dataset.courses["B"].code
    # A: Ann, Ben, Eve and Gus completed it; B: Ann, Eve and Gus (Dan's was voided, Hal's
    # is outside the team).
    assert courses[a].learners_completed == 4
    assert courses[b].learners_completed == 3
    in_package = for_viewer(
        replace(selectors.make_filters(), package_id=dataset.safety_id), manager
    )
    assert {c.code: c.learners_completed for c in selectors.course_report(in_package)}[a] == 3


def test_a_manager_with_no_people_counts_nobody(dataset: Dataset) -> None:
    lonely = make_learner(username="lonely")
    accounts.set_role(actor=None, user_id=lonely.pk, role="manager")

    mine = for_viewer(selectors.make_filters(), lonely)

    assert all(p.totals == StatusCounts() for p in selectors.package_report(mine))
    assert list(selectors.learner_rows(mine)) == []
    assert all(c.learners_completed == 0 for c in selectors.course_report(mine))

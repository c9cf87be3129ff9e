"""Who gets a manager digest: the set-based selection (one read of the overdue people,
the unit managers found over per-unit counts) equals a brute-force oracle over random
organisations — nested units, line managers, unit managers with and without the
manager role, managers overdue themselves, inactive and address-less people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from coursepack.accounts import api as accounts
from coursepack.learning import api as learning
from coursepack.notifications import selectors
from coursepack.organisation.models import Placement, UnitManager
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from tests.audiences.audience_helpers import make_unit
from tests.factories import make_admin, make_course, make_draft_package, make_learner

DAY = timedelta(days=1)


@dataclass(frozen=True)
class PersonSpec:
    unit: int | None  # index into the units, None: placed nowhere
    line_manager: int | None  # index into the people
    overdue: bool
    manager_role: bool
    manages: tuple[int, ...]  # unit indexes
    active: bool
    has_address: bool


def _spec(n_units: int, n_people: int) -> st.SearchStrategy[PersonSpec]:
    return st.builds(
        PersonSpec,
        unit=st.none() | st.integers(0, n_units - 1),
        line_manager=st.none() | st.integers(0, n_people - 1),
        overdue=st.booleans(),
        manager_role=st.booleans(),
        manages=st.lists(st.integers(0, n_units - 1), max_size=2, unique=True).map(tuple),
        active=st.booleans() | st.just(True),
        has_address=st.booleans() | st.just(True),
    )


@st.composite
def organisations(draw: st.DrawFn) -> tuple[list[int | None], list[PersonSpec]]:
    n_units = draw(st.integers(1, 6))
    # Each unit's parent comes before it: a tree (or a forest) in creation order.
    parents = [None] + [draw(st.none() | st.integers(0, i - 1)) for i in range(1, n_units)]
    n_people = draw(st.integers(1, 9))
    people = draw(st.lists(_spec(n_units, n_people), min_size=n_people, max_size=n_people))
    return parents, people


def _due_package(days: int, name: str) -> PackageVersion:
    draft = make_draft_package(items=[make_course()], name=name)
    packaging.set_version_lifecycle(
        actor=None, version_id=draft.pk, due_kind="after_enrolment", due_days=days
    )
    packaging.publish_version(actor=None, version_id=draft.pk, change_notes="Release.")
    return draft


@settings(
    max_examples=12,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(org=organisations())
def test_digest_recipients_equal_the_oracle(
    db: None, org: tuple[list[int | None], list[PersonSpec]]
) -> None:
    parents, specs = org
    with transaction.atomic():
        admin = make_admin()
        units = []
        for i, parent in enumerate(parents):
            units.append(make_unit(f"u{i}", None if parent is None else units[parent]))
        late = _due_package(10, "Late")
        later = _due_package(60, "Later")
        users = []
        for i, spec in enumerate(specs):
            user = make_learner(username=f"p{i}")
            if spec.has_address:
                user.email = f"p{i}@example.org"
                user.save(update_fields=["email"])
            users.append(user)
        for user, spec in zip(users, specs, strict=True):
            manager = None if spec.line_manager is None else users[spec.line_manager]
            unit = None if spec.unit is None else units[spec.unit]
            Placement.objects.create(user=user, org_unit=unit, manager=manager)
            for index in spec.manages:
                UnitManager.objects.create(user=user, unit=units[index])
            if spec.manager_role:
                accounts.set_role(actor=admin, user_id=user.pk, role="manager")
            package = late if spec.overdue else later
            learning.enroll(actor=admin, learner_id=user.pk, package_id=package.package_id)
        for user, spec in zip(users, specs, strict=True):
            if not spec.active:
                accounts.deactivate_user(actor=admin, user_id=user.pk)
        moment = timezone.now() + 20 * DAY

        got = set(selectors.digest_recipients(moment).values_list("pk", flat=True))

        # The oracle: each manager's team by the definition, person by person.
        def under(unit: int | None, top: int) -> bool:
            while unit is not None:
                if unit == top:
                    return True
                unit = parents[unit]
            return False

        expected = set()
        for m, (manager, mspec) in enumerate(zip(users, specs, strict=True)):
            if not (mspec.active and mspec.has_address):
                continue
            for p, spec in enumerate(specs):
                if p == m or not (spec.overdue and spec.active and spec.has_address):
                    continue
                direct = spec.line_manager == m
                in_units = mspec.manager_role and any(under(spec.unit, u) for u in mspec.manages)
                if direct or in_units:
                    expected.add(manager.pk)
        assert got == expected
        # And the one-manager form (what the digest lists) agrees on who has anyone.
        for m, manager in enumerate(users):
            if specs[m].active and specs[m].has_address:
                has_team = bool(selectors.team_overdue(manager.pk, moment))
                assert has_team == (manager.pk in expected), m
        transaction.set_rollback(True)

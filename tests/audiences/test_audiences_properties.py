"""The impact preview equals what saving does, and both equal a brute-force oracle of
the rule, over random organisations, people, prior enrollments and rule changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from coursepack.accounts import api as accounts
from coursepack.audiences import api as audiences
from coursepack.learning import api as learning
from coursepack.learning.models import Enrollment
from tests.audiences.audience_helpers import make_org, make_person, place
from tests.factories import make_admin, make_published_package

pytestmark = pytest.mark.django_db

TITLES = ("nurse", "porter", "clerk")
BASE = date(2024, 1, 1)


@dataclass(frozen=True)
class PersonSpec:
    unit: int | None  # index into the org's units
    title: str
    hired: int | None  # days after BASE
    active: bool
    by_hand: bool  # enrolled by hand before any audience
    completes: bool


people = st.lists(
    st.builds(
        PersonSpec,
        unit=st.one_of(st.none(), st.integers(0, 5)),
        title=st.sampled_from(TITLES),
        hired=st.one_of(st.none(), st.integers(0, 20)),
        active=st.booleans(),
        by_hand=st.booleans(),
        completes=st.booleans(),
    ),
    min_size=1,
    max_size=10,
)
rules = st.fixed_dictionaries(
    {
        "units": st.lists(st.integers(0, 5), max_size=2),
        "titles": st.lists(st.sampled_from(TITLES), max_size=2),
        "hired_after": st.one_of(st.none(), st.integers(0, 20)),
        "policy": st.sampled_from(["withdraw", "keep"]),
    }
).filter(lambda r: r["units"] or r["titles"] or r["hired_after"] is not None)
moves = st.lists(st.tuples(st.integers(0, 9), st.one_of(st.none(), st.integers(0, 5))), max_size=4)


def _rule(org: Any, spec: dict[str, Any]) -> audiences.Rule:
    return audiences.check_rule(
        org_unit_ids=[org.units[i].pk for i in spec["units"]],
        job_titles=spec["titles"],
        hired_after=None if spec["hired_after"] is None else BASE + timedelta(spec["hired_after"]),
        leaver_policy=spec["policy"],
    )


def _oracle(
    org: Any, spec: dict[str, Any], person: PersonSpec, unit: int | None, *, active: bool = True
) -> bool:
    """Brute force: is this person a member of the rule?"""
    if not active:
        return False
    if spec["units"]:
        if unit is None:
            return False
        path = org.units[unit].path
        if not any(path.startswith(org.units[i].path) for i in spec["units"]):
            return False
    if spec["titles"] and person.title not in spec["titles"]:
        return False
    hired_after = spec["hired_after"]
    return hired_after is None or (person.hired is not None and person.hired > hired_after)


def _open() -> dict[int, str]:
    return dict(
        Enrollment.objects.filter(withdrawn_at__isnull=True).values_list("learner_id", "status")
    )


# Bounded: no shrinking phase (each example builds an organisation, which is slow to
# shrink); a failure prints its example as generated.
@settings(
    max_examples=10,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(specs=people, first=rules, second=rules, moved=moves)
def test_preview_equals_saving_and_the_oracle(
    specs: list[PersonSpec], first: dict[str, Any], second: dict[str, Any], moved: Any
) -> None:
    with transaction.atomic():
        admin = make_admin()
        org = make_org()
        version = make_published_package(actor=admin)
        (course_id,) = version.items.values_list("course_id", flat=True)
        users = []
        for spec in specs:
            unit = None if spec.unit is None else org.units[spec.unit]
            hired = None if spec.hired is None else BASE + timedelta(spec.hired)
            user = make_person(unit, title=spec.title.upper(), hired=hired)
            if spec.by_hand:
                learning.enroll(actor=admin, learner_id=user.pk, package_id=version.package_id)
            users.append(user)
        units = [s.unit for s in specs]

        # The first rule: preview, save, compare with the oracle.
        rule = _rule(org, first)
        before = _open()
        preview = audiences.preview(package_id=version.package_id, rule=rule)
        saved = audiences.save_audience(actor=admin, package_id=version.package_id, rule=rule)
        assert preview == saved.impact
        members = {
            u.pk for u, s, n in zip(users, specs, units, strict=True) if _oracle(org, first, s, n)
        }
        assert set(preview.enrol) == members - before.keys()
        assert _open().keys() == before.keys() | members

        # Between the saves: some complete, some move, some leave.
        for user, spec in zip(users, specs, strict=True):
            if spec.completes and user.pk in _open():
                learning.record_completion(actor=admin, learner_id=user.pk, course_id=course_id)
            if not spec.active:
                accounts.deactivate_user(actor=admin, user_id=user.pk)
        for index, unit_index in moved:
            if index < len(users):
                units[index] = unit_index
                spec = specs[index]
                place(
                    users[index],
                    None if unit_index is None else org.units[unit_index],
                    title=spec.title,
                    hired=None if spec.hired is None else BASE + timedelta(spec.hired),
                )

        # The second rule: what the preview says is exactly what saving does.
        rule = _rule(org, second)
        before = _open()
        assigned = set(saved.impact.enrol)  # only what the audience enrolled can leave it
        preview = audiences.preview(package_id=version.package_id, rule=rule)
        audiences.save_audience(actor=admin, package_id=version.package_id, rule=rule)
        after = _open()
        members = {
            u.pk
            for u, s, n in zip(users, specs, units, strict=True)
            if _oracle(org, second, s, n, active=s.active)
        }
        assert set(preview.enrol) == after.keys() - before.keys() == members - before.keys()
        assert set(preview.withdraw) == before.keys() - after.keys()
        leavers = (assigned - members) & before.keys()
        expected_withdrawn = {
            i for i in leavers if second["policy"] == "withdraw" and before[i] != "completed"
        }
        assert set(preview.withdraw) == expected_withdrawn
        assert set(preview.keep) == leavers - expected_withdrawn
        transaction.set_rollback(True)

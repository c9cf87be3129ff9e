"""Audiences follow the people sync: the PEOPLE_SYNC job reconciles every audience for
exactly the people it created, updated or deactivated — new hires enrolled (due
relative to their own hire date), movers and leavers withdrawn by the policy."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from coursepack.audiences import api as audiences
from coursepack.jobs import api as jobs
from coursepack.learning.models import Enrollment
from coursepack.organisation import api as organisation
from coursepack.packaging import api as packaging
from tests.factories import make_admin, make_course, make_draft_package

pytestmark = pytest.mark.django_db

HEADER = ["external_id", "username", "job_title", "hire_date", "org_unit", "active"]


def _sync(admin: Any, people: list[dict[str, str]]) -> dict[str, Any]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(people)
    columns, rows = organisation.parse_people_csv(out.getvalue().encode())
    sync, _ = organisation.stage_people_sync(actor=admin, columns=columns, rows=rows)
    job = jobs.run_job(jobs.start_people_sync(actor=admin, sync_id=sync.pk).pk)
    assert job.status == "succeeded", job.error
    return dict(job.result)


def _person(n: int, unit: str, title: str, hired: date, active: str = "true") -> dict[str, str]:
    return {
        "external_id": f"E{n}",
        "username": f"person{n}",
        "job_title": title,
        "hire_date": hired.isoformat(),
        "org_unit": unit,
        "active": active,
    }


def _open(package_id: int) -> set[str]:
    return set(
        Enrollment.objects.filter(
            package_id=package_id, withdrawn_at__isnull=True, superseded_at__isnull=True
        ).values_list("learner__username", flat=True)
    )


def test_a_people_sync_enrols_new_members_and_withdraws_leavers() -> None:
    admin = make_admin()
    company = organisation.create_unit(actor=admin, code="CO", name="Company")
    ward = organisation.create_unit(actor=admin, code="WARD", name="Ward", parent_id=company.pk)
    organisation.create_unit(actor=admin, code="NIGHT", name="Night", parent_id=ward.pk)
    organisation.create_unit(actor=admin, code="SHOP", name="Shop", parent_id=company.pk)
    draft = make_draft_package(actor=admin, items=[make_course(actor=admin)])
    packaging.set_version_lifecycle(
        actor=admin, version_id=draft.pk, due_kind="after_hire", due_days=30
    )
    packaging.publish_version(actor=admin, version_id=draft.pk, change_notes="v1")
    package_id = draft.package_id
    old = date(2020, 1, 1)
    people = [
        _person(1, "WARD", "Nurse", old),
        _person(2, "NIGHT", "nurse", old),  # below the ward: a member
        _person(3, "WARD", "Porter", old),  # wrong title
        _person(4, "SHOP", "Nurse", old),  # wrong unit
        _person(5, "NIGHT", "Nurse", old),
    ]
    _sync(admin, people)
    audiences.save_audience(
        actor=admin,
        package_id=package_id,
        rule=audiences.check_rule(org_unit_ids=[ward.pk], job_titles=["Nurse"]),
    )
    assert _open(package_id) == {"person1", "person2", "person5"}

    hired = timezone.localdate() - timedelta(days=2)
    people[1] = _person(2, "SHOP", "Nurse", old)  # moves out
    people[4] = _person(5, "NIGHT", "Nurse", old, active="false")  # leaves the company
    people[2] = _person(3, "WARD", "Nurse", old)  # retitled into the audience
    people.append(_person(6, "NIGHT", "Nurse", hired))  # a new hire
    result = _sync(admin, people)

    assert result["audiences"] == {"audiences": 1, "enrolled": 2, "withdrawn": 2, "kept": 0}
    assert _open(package_id) == {"person1", "person3", "person6"}
    newcomer = get_user_model().objects.get(username="person6")
    enrollment = Enrollment.objects.get(learner=newcomer, package_id=package_id)
    assert enrollment.due_at is not None
    assert timezone.localtime(enrollment.due_at).date() == hired + timedelta(days=30)

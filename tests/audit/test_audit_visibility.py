"""Auditors see whether the audit log verifies (page and API) and can export it."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from coursepack.accounts.models import Account, Role
from coursepack.audit.models import AuditEvent
from coursepack.catalog import api as catalog
from tests.factories import make_learner

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor() -> Client:
    user = make_learner(username="the-auditor")
    Account.objects.create(user=user, role=Role.AUDITOR)
    client = Client()
    client.force_login(user)
    for i in range(3):
        catalog.create_course(actor=None, code=f"VIS-{i}", name=f"Visible {i}")
    return client


def test_the_api_and_the_page_say_the_chain_is_intact(auditor: Client) -> None:
    body = auditor.get("/api/v1/audit/verification").json()
    page = auditor.get("/audit/verification/")

    assert body["intact"] is True and body["checked"] >= 3
    assert page.status_code == 200 and b"Intact" in page.content


def test_the_api_and_the_page_name_a_broken_record(auditor: Client) -> None:
    target = AuditEvent.objects.filter(action="course.created").order_by("id").first()
    assert target is not None
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER cp_audit_auditevent_append_only ON audit_auditevent")
        else:
            cursor.execute("DROP TRIGGER cp_audit_auditevent_update")
        cursor.execute("UPDATE audit_auditevent SET notes = 'x' WHERE id = %s", [target.pk])

    body = auditor.get("/api/v1/audit/verification").json()
    page = auditor.get("/audit/verification/")

    assert body["intact"] is False and body["first_bad_id"] == target.pk
    assert f"at record {target.pk}".encode() in page.content


def test_the_log_exports_as_streamed_json_lines_and_csv(auditor: Client) -> None:
    jsonl = auditor.get("/api/v1/audit/export?format=jsonl")
    as_csv = auditor.get("/api/v1/audit/export?format=csv")

    assert jsonl.streaming and as_csv.streaming
    lines = b"".join(jsonl.streaming_content).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == list(
        AuditEvent.objects.order_by("id").values_list("id", flat=True)
    )
    assert {"hash", "prev_hash", "row_hash", "hash_scheme"} <= set(records[0])
    rows = list(csv.DictReader(io.StringIO(b"".join(as_csv.streaming_content).decode())))
    assert len(rows) == len(records)
    assert "no-store" in jsonl["Cache-Control"]


def test_learners_may_not_read_the_log(db: Any) -> None:
    client = Client()
    client.force_login(make_learner())

    assert client.get("/api/v1/audit/export").status_code == 403
    assert client.get("/api/v1/audit/verification").status_code == 403
    assert client.get("/audit/verification/").status_code in (302, 403)

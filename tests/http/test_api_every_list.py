"""Every list pages by cursor (``after``, ``next``, ``Link: rel="next"``) and takes
``updated_since``; the few that do not are named here with the reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from api_helpers import Caller, make_caller
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.http.api import api
from coursepack.organisation import api as organisation
from coursepack.packaging.models import PublishRecord
from tests.factories import make_published_package, publish_new_version

# Lists that are not synced by cursor, on purpose.
NOT_CURSOR_LISTS = {
    # Ranked by username over counts that change with every completion: offset paging.
    "/api/v1/reports/learners",
    # One row per kind of message: a fixed set of six, not rows that are added.
    "/api/v1/notifications/templates",
}


def _response_schema(schema: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    ok = operation["responses"].get("200", operation["responses"].get(200, {}))
    found: dict[str, Any] = ok.get("content", {}).get("application/json", {}).get("schema", {})
    ref = found.get("$ref", "")
    if ref:
        found = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return found


def test_every_list_in_the_schema_is_a_cursor_list() -> None:
    """A GET answering an array, or a page with `items`, takes `after` and
    `updated_since` and answers `next` — except the named ones."""
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    lists = []
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        answer = _response_schema(schema, operation)
        if answer.get("type") == "array" or {"items", "count"} <= set(answer.get("properties", {})):
            lists.append((path, operation, answer))
    assert len(lists) >= 20
    offenders = [
        path
        for path, operation, answer in lists
        if path not in NOT_CURSOR_LISTS
        and (
            answer.get("type") == "array"
            or "next" not in answer.get("properties", {})
            or not {"after", "limit"} <= {p["name"] for p in operation.get("parameters", [])}
        )
    ]
    assert offenders == [], offenders


@pytest.fixture
def admin(db: None) -> Caller:
    return make_caller(role="admin")


def _pages(admin: Caller, path: str) -> list[int]:
    """Read every page of ``path`` by following the Link header; return the item ids."""
    seen: list[int] = []
    url: str | None = path
    while url is not None:
        response = admin.call("GET", url)
        assert response.status_code == 200, response.content
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        link = response.get("Link")
        assert (link is None) == (page["next"] is None)
        url = None if page["next"] is None else f"{path.split('?')[0]}?limit=1&after={page['next']}"
    return seen


def test_versions_and_the_publish_log_page_oldest_first_and_filter_by_time(
    admin: Caller,
) -> None:
    """Versions and publish records in id order by cursor; `updated_since` on the
    append-only publish log keeps the records made since."""
    v1 = make_published_package()
    before_v2 = timezone.now()
    v2 = publish_new_version(from_version=v1)
    package = v1.package_id

    assert _pages(admin, f"/packages/{package}/versions?limit=1") == [v1.pk, v2.pk]
    records = list(PublishRecord.objects.filter(package_id=package).order_by("id"))
    assert _pages(admin, f"/packages/{package}/publish-log?limit=1") == [r.pk for r in records]

    since = quote(before_v2.isoformat())
    recent = admin.call("GET", f"/packages/{package}/publish-log?updated_since={since}").json()
    made_since = [r.pk for r in records if r.occurred_at >= before_v2]
    assert [r["id"] for r in recent["items"]] == made_since
    assert 0 < len(made_since) < len(records)
    future = quote((timezone.now() + timedelta(days=1)).isoformat())
    assert (
        admin.call("GET", f"/packages/{package}/versions?updated_since={future}").json()["items"]
        == []
    )


def test_tokens_and_org_units_page_by_cursor_and_filter_by_time(admin: Caller) -> None:
    """Tokens and org units (id order; each unit names its parent and depth) by cursor;
    `updated_since` keeps what was written since, by the audit log."""
    root = organisation.create_unit(actor=admin.user, name="Company", code="CO")
    child = organisation.create_unit(actor=admin.user, name="Sales", code="SA", parent_id=root.pk)
    assert _pages(admin, "/org-units?limit=1") == [root.pk, child.pk]
    units = admin.call("GET", "/org-units").json()["items"]
    assert [(u["parent_id"], u["depth"]) for u in units] == [(None, 0), (root.pk, 1)]

    since = quote(timezone.now().isoformat())
    later = accounts.issue_token(actor=admin.user, name="later").token
    assert _pages(admin, "/tokens?limit=1") == sorted(
        admin.user.api_tokens.values_list("pk", flat=True)
    )
    assert [
        t["id"] for t in admin.call("GET", f"/tokens?updated_since={since}").json()["items"]
    ] == [later.pk]
    assert admin.call("GET", f"/org-units?updated_since={since}").json()["items"] == []

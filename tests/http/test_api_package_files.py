"""Package files over the API: export (one version or the history) and import as a draft."""

from __future__ import annotations

from typing import Any

import pytest
from api_helpers import make_caller, problem

from coursepack.interchange import package_files
from coursepack.packaging.models import PackageVersion
from tests.factories import make_course, make_group, make_published_package

pytestmark = pytest.mark.django_db


def test_export_then_import_over_the_api_makes_a_draft_that_exports_the_same() -> None:
    """GET export gives the command's file; POST /package-files creates a draft whose
    export is the same file; published history is not touched."""
    admin = make_caller(role="admin")
    a, b = make_course(actor=admin.user), make_course(actor=admin.user)
    group = make_group(actor=admin.user, name="Either", items=[a, b])
    version = make_published_package(actor=admin.user, items=[group], name="Over HTTP")

    exported = admin.call("GET", f"/packages/{version.package_id}/export")

    assert exported.status_code == 200
    document = exported.json()
    assert document == package_files.export_package(package_id=version.package_id)
    history = admin.call("GET", f"/packages/{version.package_id}/export?history=true").json()
    assert [v["number"] for v in history["versions"]] == [1]
    assert admin.call("GET", f"/packages/{version.package_id}/export?version=1").json() == document
    assert admin.call("GET", f"/packages/{version.package_id}/export?version=2").status_code == 404

    created = admin.call("POST", "/package-files", document)

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["reused_groups"] == ["Either v1"]
    # The file's key names the package: the import is its next draft
    assert body["package_id"] == version.package_id
    draft = PackageVersion.objects.get(pk=body["draft_version_id"])
    assert (draft.status, draft.version_number) == ("draft", 2)
    again = admin.call("GET", f"/packages/{body['package_id']}/export?version=2").json()
    assert again == document
    assert admin.call("GET", f"/packages/{version.package_id}/export").json() == document


def test_import_over_the_api_refuses_invalid_files_and_missing_courses() -> None:
    """An invalid file is a 422 naming every problem; missing courses are listed unless
    create_courses=true; a package that already has a draft answers 409."""
    admin = make_caller(role="admin")
    version = make_published_package(actor=admin.user, name="Base")
    document = package_files.export_package(package_id=version.package_id)

    invalid = admin.call("POST", "/package-files", {"format": "coursepack-package/1"})
    assert invalid.status_code == 422
    assert "(document): 'versions' is a required property" in problem(invalid)["problems"]

    document["courses"][0]["code"] = "ELSEWHERE-1"
    document["versions"][0]["items"][0]["course"] = "ELSEWHERE-1"
    missing = admin.call("POST", "/package-files", document)
    assert missing.status_code == 422
    assert problem(missing)["problems"][0].startswith("ELSEWHERE-1:")
    document["package"]["key"] = "base-elsewhere"
    created = admin.call("POST", "/package-files?create_courses=true", document)
    assert created.json()["created_courses"] == ["ELSEWHERE-1"]
    assert created.json()["package_id"] != version.package_id

    into = admin.call("POST", f"/package-files?into={version.package_id}", document)
    assert into.status_code == 201
    refused = admin.call("POST", f"/package-files?into={version.package_id}", document)
    assert refused.status_code == 409
    assert problem(refused)["code"] == "draft_already_exists"
    assert admin.call("GET", "/packages/987654321/export").status_code == 404


def test_package_files_travel_as_yaml_too() -> None:
    """Accept: application/yaml gives the file as YAML (the command's bytes); a YAML
    body sent as application/yaml imports like the JSON one; JSON stays the default."""
    admin = make_caller(role="admin")
    a, b = make_course(actor=admin.user), make_course(actor=admin.user)
    group = make_group(actor=admin.user, name="Either (YAML)", items=[a, b])
    version = make_published_package(actor=admin.user, items=[a, group], name="As YAML")
    document = package_files.export_package(package_id=version.package_id)
    path = f"/packages/{version.package_id}/export"

    as_yaml = admin.call("GET", path, headers={"Accept": "application/yaml"})

    assert as_yaml.status_code == 200
    assert as_yaml["Content-Type"] == "application/yaml; charset=utf-8"
    assert as_yaml.content.decode() == package_files.dumps(document, "yaml")
    assert package_files.loads(as_yaml.content.decode(), "yaml") == document
    preferred = "application/json;q=0.5, application/yaml;q=0.9"
    assert admin.call("GET", path, headers={"Accept": preferred})["Content-Type"] == (
        "application/yaml; charset=utf-8"
    )
    for accept in ("", "*/*", "application/json", "application/yaml;q=0.1, */*"):
        plain = admin.call("GET", path, headers={"Accept": accept} if accept else None)
        assert plain["Content-Type"].startswith("application/json"), accept
        assert plain.json() == document

    created = admin.client.post(
        f"/api/v1/package-files?into={version.package_id}",
        data=as_yaml.content,
        content_type="application/yaml",
    )

    assert created.status_code == 201, created.content
    draft = PackageVersion.objects.get(pk=created.json()["draft_version_id"])
    assert (draft.package_id, draft.status, draft.version_number) == (
        version.package_id,
        "draft",
        2,
    )
    again = admin.call("GET", f"{path}?version=2", headers={"Accept": "application/yaml"})
    assert again.content == as_yaml.content


def test_yaml_bodies_are_validated_like_json_ones() -> None:
    """A YAML file is checked by the same schema (422 listing every problem); YAML
    that cannot be parsed, or uses aliases, is a 422 too; a body of another media
    type is a 415; JSON that cannot be parsed is a 400."""
    admin = make_caller(role="admin")

    def post(body: str, content_type: str) -> Any:
        return admin.client.post(
            "/api/v1/package-files", data=body.encode(), content_type=content_type
        )

    invalid = post("format: coursepack-package/1\n", "application/yaml")
    assert invalid.status_code == 422
    assert "(document): 'versions' is a required property" in problem(invalid)["problems"]
    unparsable = post("format: [unclosed\n", "application/yaml; charset=utf-8")
    assert problem(unparsable)["code"] == "package_file_invalid"
    bomb = post("a: &x [1, 2]\nb: [*x, *x]\n", "application/x-yaml")
    assert problem(bomb)["status"] == 422
    assert "aliases" in problem(bomb)["detail"]
    other = post("<package/>", "application/xml")
    assert (other.status_code, problem(other)["code"]) == (415, "unsupported_media_type")
    broken = post("{not json", "application/json")
    assert (broken.status_code, problem(broken)["code"]) == (400, "malformed_body")
    assert PackageVersion.objects.count() == 0


def test_yaml_is_authorized_like_json() -> None:
    """The media type changes nothing about who may do what: auditors read YAML, only
    admins import it, learners get neither."""
    admin = make_caller(role="admin")
    version = make_published_package(actor=admin.user, name="Who reads YAML")
    path = f"/packages/{version.package_id}/export"
    body = admin.call("GET", path, headers={"Accept": "application/yaml"}).content
    auditor, learner = make_caller(role="auditor"), make_caller(role="learner")

    def post(caller: Any) -> Any:
        return caller.client.post(
            "/api/v1/package-files", data=body, content_type="application/yaml"
        )

    assert auditor.call("GET", path, headers={"Accept": "application/yaml"}).content == body
    assert learner.call("GET", path, headers={"Accept": "application/yaml"}).status_code == 403
    assert (post(auditor).status_code, post(learner).status_code) == (403, 403)
    assert PackageVersion.objects.filter(status="draft").count() == 0
    assert post(admin).status_code == 201

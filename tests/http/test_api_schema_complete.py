"""The OpenAPI document is complete enough for a generated client (issue 17, ADR 0028).

Walks ``/api/v1/openapi.json`` and names every gap: an operation, parameter or
property without a description, a 201 without a declared Location, a request body
without an example (or with one its schema refuses), an inline enum, a header
declared nullable. New endpoints are held to it as they are added.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from coursepack.http.api import api

_schema: dict[str, Any] = {}


def schema() -> dict[str, Any]:
    if not _schema:
        _schema.update(api.get_openapi_schema(path_prefix="/api/v1/"))
    return _schema


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (verb.upper(), path, operation)
        for path, verbs in schema()["paths"].items()
        for verb, operation in verbs.items()
    ]


def _walk(node: Any, where: str) -> Any:
    """Yield (where, node) for every object in a JSON document."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{where}/{index}")


def test_the_document_is_valid_openapi() -> None:
    """openapi-spec-validator accepts the document (the generator's test also runs it)."""
    import json

    validate(json.loads(json.dumps(schema())))


def test_every_operation_and_parameter_has_a_description_and_a_tag() -> None:
    missing = []
    for verb, path, operation in operations():
        if not operation.get("description"):
            missing.append(f"{verb} {path}")
        if not operation.get("tags"):
            missing.append(f"{verb} {path}: tags")
        for parameter in operation.get("parameters", []):
            if not parameter.get("description"):
                missing.append(f"{verb} {path} ?{parameter['name']}")
    assert missing == [], "\n".join(missing)


def test_every_property_has_a_description() -> None:
    missing = []
    for where, node in _walk(schema(), ""):
        for name, prop in (node.get("properties") or {}).items():
            if isinstance(prop, dict) and not prop.get("description"):
                missing.append(f"{where}.{name}")
    assert missing == [], "\n".join(missing)


def test_no_enum_is_inline_and_every_enum_component_is_used() -> None:
    """Each enum is one named component: ``{"$ref": ".../Role"}``, never ``{"enum": …}`` inline."""
    components = schema()["components"]["schemas"]
    enums = {name for name, c in components.items() if "enum" in c}
    inline = [
        where
        for where, node in _walk(schema(), "")
        if "enum" in node and where.rsplit("/", 1)[-1] not in enums
    ]
    assert inline == [], "\n".join(inline)
    text = str(schema()["paths"]) + str(components)
    assert [n for n in enums if f"#/components/schemas/{n}'" not in text] == []
    assert {"Role", "EnrollmentStatus", "GroupKind", "ItemKind", "VersionStatus"} <= enums


def test_outputs_use_the_enum_components_too() -> None:
    """A status, kind, state, role or source in a response is typed by its enum, not a bare string."""
    components = schema()["components"]["schemas"]
    bare = [
        f"{name}.{field}"
        for name, component in components.items()
        for field, prop in (component.get("properties") or {}).items()
        if field in ("status", "state", "kind", "role", "source", "policy", "inflight_policy")
        and prop.get("type") == "string"
        and "enum" not in prop
    ]
    assert bare == [], "\n".join(bare)


def _returns_a_draft(verb: str, path: str, operation: dict[str, Any]) -> bool:
    """Whether the operation answers with a version or group version (which may be a draft)."""
    drafts = ("/api/v1/versions/{version_id}", "/api/v1/group-versions/")
    others = ("/publish", "/publish-preview", "/diff", "/lifecycle")
    answers = any(str(s) in ("200", "201") for s in operation["responses"])
    deletes_the_draft = verb == "DELETE" and "items" not in path
    return (
        path.startswith(drafts) and answers and not path.endswith(others) and not deletes_the_draft
    )


def test_every_201_declares_location_and_every_draft_answer_declares_etag() -> None:
    missing = []
    for verb, path, operation in operations():
        for status, response in operation["responses"].items():
            headers = response.get("headers", {})
            if str(status) == "201" and "Location" not in headers:
                missing.append(f"{verb} {path}: Location")
        if _returns_a_draft(verb, path, operation):
            ok = next(r for s, r in operation["responses"].items() if str(s) in ("200", "201"))
            if "ETag" not in ok.get("headers", {}):
                missing.append(f"{verb} {path}: ETag")
    assert missing == [], "\n".join(missing)


def test_no_header_or_parameter_is_nullable() -> None:
    nullable = []
    for verb, path, operation in operations():
        for parameter in operation.get("parameters", []):
            if "null" in str(parameter.get("schema", {})):
                nullable.append(f"{verb} {path} {parameter['name']}")
        for response in operation["responses"].values():
            for name, header in response.get("headers", {}).items():
                if "null" in str(header.get("schema", {})):
                    nullable.append(f"{verb} {path} response header {name}")
    assert nullable == []


@pytest.mark.parametrize("media", ["application/json"])
def test_every_request_body_has_an_example_its_schema_accepts(media: str) -> None:
    document = schema()
    missing, refused = [], []
    for verb, path, operation in operations():
        content = operation.get("requestBody", {}).get("content", {}).get(media)
        if content is None:
            continue
        if "example" not in content:
            missing.append(f"{verb} {path}")
            continue
        body_schema = {**content["schema"], "components": document["components"]}
        try:
            jsonschema.validate(content["example"], body_schema)
        except jsonschema.ValidationError as error:
            refused.append(f"{verb} {path}: {error.message}")
    assert missing == [], "\n".join(missing)
    assert refused == [], "\n".join(refused)

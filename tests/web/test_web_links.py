"""Row links built once per page (web.links) are the links ``reverse`` builds."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from coursepack.web.links import ID, link


@pytest.mark.parametrize(
    ("viewname", "fixed"),
    [
        ("web:package", []),
        ("web:publish", []),
        ("web:discard-draft", []),
        ("web:package-delete", []),
        ("web:new-version", []),
        ("web:package-status", []),
        ("web:person", []),
        ("web:transcript", []),
        ("web:draft", ["package"]),
        ("web:draft", ["group"]),
    ],
)
@pytest.mark.parametrize("pk", [1, 7, 45, 9_182_736_450, 10**12])
def test_link_is_reverse(viewname: str, fixed: list[str], pk: int) -> None:
    build = link(viewname, *fixed, ID)
    assert build(pk) == escape(reverse(viewname, args=[*fixed, pk]))


def test_link_of_two_ids_places_each() -> None:
    build = link("web:revoke-exemption", ID, ID)
    assert build(3, 12) == reverse("web:revoke-exemption", args=[3, 12])
    assert build(12, 3) == reverse("web:revoke-exemption", args=[12, 3])
    with pytest.raises(TypeError):
        build(3)


def test_link_refuses_what_is_not_an_id() -> None:
    build = link("web:person", ID)
    with pytest.raises(ValueError):
        build("3/../../admin")

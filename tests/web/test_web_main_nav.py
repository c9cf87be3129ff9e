"""The main navigation on real pages: each role's links and sections, the current page
marked (its link and, on wide screens, its section), in the row and the phone menu."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from tests.factories import make_published_package


def _nav(client: Client, url: str, kind: str) -> str:
    """The navigation ``kind`` ("nav-wide" or "nav-menu") of the page at ``url``."""
    page = client.get(url).content.decode()
    if kind == "nav-wide":
        found = re.search(r'<nav aria-label="Main" class="nav-wide">(.*?)</nav>', page, re.S)
    else:
        found = re.search(
            r'<details class="nav-menu">.*?<nav aria-label="Main">(.*?)</nav>', page, re.S
        )
    assert found is not None, url
    return found.group(1)


def _current(nav: str) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]*)</a>', nav)


def _sections(nav: str) -> list[str]:
    return re.findall(r"<summary>([^<]*)</summary>", nav)


def test_an_admin_sees_every_section_and_the_current_page_marked(client_as_admin: Client) -> None:
    v1 = make_published_package(name="Cyber")
    home = _nav(client_as_admin, reverse("web:home"), "nav-wide")
    assert _sections(home) == ["Courses", "Learning", "Organisation", "Reporting"]
    assert _current(home) == ["Packages"]
    assert 'href="/admin/"' in home  # the records, for a staff user
    # A package's page is under "Packages"; a report under "Reports", in its section.
    assert _current(
        _nav(client_as_admin, reverse("web:package", args=[v1.package_id]), "nav-wide")
    ) == ["Packages"]
    reports = _nav(client_as_admin, reverse("web:reports"), "nav-wide")
    assert _current(reports) == ["Reports"]
    assert re.findall(r'<details class="nav-group current"><summary>([^<]*)', reports) == [
        "Reporting"
    ]
    groups = _nav(client_as_admin, reverse("web:groups"), "nav-wide")
    assert _current(groups) == ["Groups"]
    # The phone menu: the same links, each section's name a heading over its links.
    menu = _nav(client_as_admin, reverse("web:reports"), "nav-menu")
    assert _current(menu) == ["Reports"]
    assert re.findall(r'<p class="nav-heading" id="nav-section-[a-z]+">([^<]*)</p>', menu) == [
        "Courses",
        "Learning",
        "Organisation",
        "Reporting",
    ]
    assert re.findall(r">([^<>]+)</a>", menu) == re.findall(r">([^<>]+)</a>", reports)


def test_an_auditor_has_no_admin_only_links(db: Any) -> None:
    auditor = accounts.create_user(actor=None, username="audrey", role=Role.AUDITOR)
    client = Client()
    client.force_login(auditor)
    nav = _nav(client, reverse("web:catalog"), "nav-wide")
    assert _sections(nav) == ["Courses", "Learning", "Reporting"]
    links = re.findall(r">([^<>]+)</a>", nav)
    assert "Enrol" not in links and "People" not in links and "Records (read-only)" not in links
    assert "Learners" in links and "Audit log" in links
    assert _current(nav) == ["Catalog"]


def test_a_learner_has_their_training_and_transcript(db: Any) -> None:
    learner = accounts.create_user(actor=None, username="lena", role=Role.LEARNER)
    client = Client()
    client.force_login(learner)
    nav = _nav(client, reverse("web:my-training"), "nav-wide")
    assert _sections(nav) == []
    assert re.findall(r'<a href="([^"]*)"[^>]*>([^<]*)</a>', nav) == [
        (reverse("web:my-training"), "My training"),
        (reverse("web:transcript", args=[learner.pk]), "My transcript"),
    ]
    assert _current(nav) == ["My training"]

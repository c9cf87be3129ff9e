"""Template helpers: the main navigation, and showing requirement rules."""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.urls import get_script_prefix, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from coursepack import rules

register = template.Library()


@register.filter
def is_group(node: object) -> bool:
    return isinstance(node, rules.Group)


@register.filter
def rule_text(group: rules.Group) -> str:
    """Say a group's rule the way the seed's sketches do."""
    if group.kind == rules.GroupKind.FAMILY:
        return f"Complete 1 of {len(group.items)}"
    if group.kind == rules.GroupKind.SERIES:
        return "Complete all in order"
    wanted = group.min_count if group.min_count is not None else len(group.items)
    return f"Complete {wanted} of {len(group.items)}"


# The main navigation (``{% main_nav "row" %}``, ``{% main_nav "menu" %}``): for each
# role, its links and its sections of links, each link (URL name, label, who sees it:
# "admin" for admins only, "" for every role listed). Built in Python, not in template
# tags: it is on every page, twice (the row and the phone menu), and the tags cost
# ~1.5 ms a page (a URL reversed per link per request).
_Link = tuple[str, str, str]
_STAFF_NAV: list[_Link | tuple[str, list[_Link]]] = [
    ("web:home", "Packages", ""),
    ("Courses", [("web:catalog", "Catalog", ""), ("web:groups", "Groups", ""),
                 ("web:equivalences", "Equivalences", "")]),
    ("Learning", [("web:enrol", "Enrol", "admin"), ("web:learners", "Learners", ""),
                  ("web:reminders", "Reminders", "")]),
    ("Organisation", [("web:people", "People", "admin"), ("web:people-sync", "People sync", "admin"),
                      ("web:org-units", "Org units", "admin"), ("web:webhooks", "Webhooks", "admin")]),
    ("Reporting", [("web:reports", "Reports", ""), ("web:matrix", "Matrix", ""),
                   ("web:audit", "Audit log", "")]),
]  # fmt: skip
_MANAGER_NAV: list[_Link] = [
    ("web:team", "My team", ""),
    ("web:matrix", "Training matrix", ""),
    ("web:learners", "My people", ""),
    ("web:reports", "Reports", ""),
    ("web:my-training", "My training", ""),
]
_LEARNER_NAV: list[_Link] = [("web:my-training", "My training", "")]

# Where a link is the current page beyond the paths under its own (a package's pages
# are under "Packages", a group's under "Groups").
_ALSO_CURRENT = {
    "/": ("/packages/", "/versions/", "/drafts/package/"),
    "/groups/": ("/groups/", "/group-versions/", "/drafts/group/"),
}


@functools.cache
def _href(url_name: str, prefix: str) -> str:
    """The URL of a navigation link (the URLconf does not change while a process runs;
    the script prefix is part of the key)."""
    return reverse(url_name)


def _is_current(href: str, path: str) -> bool:
    also = _ALSO_CURRENT.get(href)
    if href == "/":
        return path == "/" or path.startswith(also or ())
    return path.startswith(href) or (also is not None and path.startswith(also))


def _link(href: str, label: str, current: bool) -> str:
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)


@functools.lru_cache(maxsize=256)
def _section(label: str, links: tuple[tuple[str, str, bool] | str, ...], menu: bool) -> str:
    """A section of the navigation: a menu that opens from its name (a ``<details>``,
    so keyboard and no-script work) in the row; its links under its name as a heading
    in the phone menu."""
    inner = "\n".join(link if isinstance(link, str) else _link(*link) for link in links)
    if menu:
        heading = f"nav-section-{slugify(label)}"
        return format_html(
            '<div class="nav-section" role="group" aria-labelledby="{}">'
            '<p class="nav-heading" id="{}">{}</p>{}</div>',
            heading,
            heading,
            label,
            mark_safe(inner),  # each link escaped by format_html
        )
    # The section holding the current page is marked, as a current link is.
    current = " current" if any(link[2] for link in links if not isinstance(link, str)) else ""
    return format_html(
        '<details class="nav-group{}"><summary>{}</summary><div class="nav-group-links">{}</div>'
        "</details>",
        current,
        label,
        mark_safe(inner),  # each link escaped by format_html
    )


@register.simple_tag(takes_context=True)
def main_nav(context: template.Context, mode: str) -> SafeString:
    """Render the main navigation for the signed-in user's role: ``"row"`` (wide
    screens: sections as menus) or ``"menu"`` (the phone menu: every link under its
    section's heading). The link of the current page (by its path) has
    ``aria-current="page"``; a section with no links for this user is left out."""
    role = context.get("cp_role")
    request = context.get("request")
    user = context.get("user")
    path = request.path if request is not None else ""
    prefix = get_script_prefix()
    menu = mode == "menu"

    def shown(links: list[_Link]) -> list[Any]:
        return [
            (href, label, _is_current(href, path))
            for name, label, who in links
            if not who or who == role
            for href in (_href(name, prefix),)
        ]

    parts: list[str] = []
    if role in ("admin", "auditor"):
        for entry in _STAFF_NAV:
            if isinstance(entry[1], list):
                links = shown(entry[1])
                if entry[0] == "Reporting" and user is not None and user.is_staff:
                    links.append(
                        format_html(
                            '<a href="{}">Records (read-only)</a>', _href("admin:index", prefix)
                        )
                    )
                if links:
                    parts.append(_section(entry[0], tuple(links), menu))
            else:
                parts.extend(_link(*link) for link in shown([entry]))
    elif role in ("manager", "learner"):
        parts.extend(
            _link(*link) for link in shown(_MANAGER_NAV if role == "manager" else _LEARNER_NAV)
        )
        transcript = reverse("web:transcript", args=[user.pk]) if user is not None else ""
        parts.append(format_html('<a href="{}">My transcript</a>', transcript))
    return mark_safe("\n".join(parts))  # each part escaped by format_html


@register.filter
def get(mapping: object, key: str) -> object:
    """Return ``mapping[key]`` or None (templates cannot index by a variable)."""
    if isinstance(mapping, dict):
        return mapping.get(key)
    return None


@register.filter
def since(moment: object) -> str:
    """Say how long ago a moment was, in words ("just now", "5 minutes ago", "3 days ago")."""
    from datetime import datetime

    from django.utils import timezone
    from django.utils.timesince import timesince

    if not isinstance(moment, datetime):
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment).split(',')[0]} ago"


@register.filter
def words(code: str) -> str:
    """Turn a stored code into words ("not_started" → "not started")."""
    return str(code).replace("_", " ")

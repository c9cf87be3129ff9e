"""Template helpers: the main navigation, and showing requirement rules."""

from __future__ import annotations

from django import template
from django.template.base import NodeList, Parser, Token
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


@register.simple_tag(takes_context=True)
def nav_link(context: template.Context, url_name: str, label: str) -> str:
    """Render a main-navigation link, marked as the current page when the path is under it."""
    from django.urls import reverse
    from django.utils.html import format_html

    href = reverse(url_name)
    request = context.get("request")
    path = request.path if request is not None else ""
    current = path == href if href == "/" else path.startswith(href)
    if href == "/" and request is not None:
        current = path == "/" or path.startswith(("/packages/", "/versions/", "/drafts/package/"))
    elif href == "/groups/":
        current = path.startswith(("/groups/", "/group-versions/", "/drafts/group/"))
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)


class _NavGroupNode(template.Node):
    def __init__(self, label: template.base.FilterExpression, nodelist: NodeList) -> None:
        self.label = label
        self.nodelist = nodelist

    def render(self, context: template.Context) -> SafeString:
        links = self.nodelist.render(context).strip()
        if not links:
            return mark_safe("")
        label = str(self.label.resolve(context))
        if context.get("nav_mode") == "menu":
            # The phone menu lists every link, under its section's heading.
            heading = f"nav-section-{slugify(label)}"
            return format_html(
                '<div class="nav-section" role="group" aria-labelledby="{}">'
                '<p class="nav-heading" id="{}">{}</p>{}</div>',
                heading,
                heading,
                label,
                mark_safe(links),  # rendered by the template's own tags (escaped there)
            )
        # The section holding the current page is marked, as a current link is.
        current = " current" if 'aria-current="page"' in links else ""
        return format_html(
            '<details class="nav-group{}"><summary>{}</summary><div class="nav-group-links">{}</div>'
            "</details>",
            current,
            label,
            mark_safe(links),  # rendered by the template's own tags (escaped there)
        )


@register.tag("navgroup")
def navgroup(parser: Parser, token: Token) -> _NavGroupNode:
    """``{% navgroup "Courses" %}{% nav_link ... %}…{% endnavgroup %}``: a section of the main
    navigation. In the row (wide screens) it is a menu that opens from its name (a
    ``<details>``, so keyboard and no-script work); with ``nav_mode="menu"`` (the phone
    menu) its links are listed under the name as a heading. A section with no links for
    this user is left out."""
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("navgroup takes one argument: the section's name")
    nodelist = parser.parse(("endnavgroup",))
    parser.delete_first_token()
    return _NavGroupNode(parser.compile_filter(bits[1]), nodelist)


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

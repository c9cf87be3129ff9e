"""Message texts: the built-in templates, the placeholders each kind offers, and
rendering with ``string.Template`` (ADR 0026).

A template can only name placeholders — ``$first_name``, ``${package}`` — from the
kind's list: values are plain strings computed by Coursepack, so a template has no
way to reach a model, an attribute, a method or a setting, and no logic to run. In
the HTML body every value is escaped (``$people`` is a list built and escaped here).
"""

from __future__ import annotations

import html
import string
from collections.abc import Mapping
from dataclasses import dataclass

from coursepack.notifications.errors import TemplateInvalid

__all__ = [
    "DEFAULTS",
    "PLACEHOLDERS",
    "SAMPLE",
    "Rendered",
    "TemplateText",
    "check",
    "render",
]

_LEARNER = (
    "first_name",
    "full_name",
    "package",
    "due_date",
    "days_left",
    "days_overdue",
    "expires_on",
    "completed_on",
    "enrolled_on",
    "link",
)

#: The placeholders each kind of message may use, with what they hold.
PLACEHOLDERS: dict[str, tuple[str, ...]] = {
    "assigned": _LEARNER,
    "due_soon": _LEARNER,
    "overdue": _LEARNER,
    "expiring": _LEARNER,
    "completed": _LEARNER,
    "manager_digest": ("first_name", "full_name", "count", "people", "link"),
}

#: What each placeholder holds (shown beside the template editor).
MEANINGS = {
    "first_name": "the recipient's first name (or user name)",
    "full_name": "the recipient's full name (or user name)",
    "package": "the package's name",
    "due_date": "the due date in force (YYYY-MM-DD), or 'none'",
    "days_left": "whole days until the due date",
    "days_overdue": "whole days since the due date",
    "expires_on": "the date the completion expires (YYYY-MM-DD)",
    "completed_on": "the date the package was completed (YYYY-MM-DD)",
    "enrolled_on": "the date of enrolment (YYYY-MM-DD)",
    "link": "the address of the learner's training page (or the manager's team page)",
    "count": "how many of the team are overdue",
    "people": "the overdue people, one per line: name — package, overdue since date",
}


@dataclass(frozen=True)
class TemplateText:
    subject: str
    body_text: str
    body_html: str = ""


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str


_SIGN = "\n\n— Coursepack, on behalf of your training team"

#: The built-in texts, used for every kind an admin has not edited.
DEFAULTS: dict[str, TemplateText] = {
    "assigned": TemplateText(
        "New training for you: $package",
        "Hello $first_name,\n\nYou have been enrolled in $package. Due date: $due_date.\n"
        "Start here: $link" + _SIGN,
    ),
    "due_soon": TemplateText(
        "Reminder: $package is due in $days_left day(s)",
        "Hello $first_name,\n\n$package is due on $due_date ($days_left day(s) from now) "
        "and is not complete yet.\nContinue here: $link" + _SIGN,
    ),
    "overdue": TemplateText(
        "Overdue: $package",
        "Hello $first_name,\n\n$package was due on $due_date and is $days_overdue day(s) "
        "overdue. Please complete it as soon as you can.\nContinue here: $link" + _SIGN,
    ),
    "expiring": TemplateText(
        "Your $package certification expires on $expires_on",
        "Hello $first_name,\n\nYour completion of $package expires on $expires_on. "
        "Renew it before then to stay current.\nSee your training: $link" + _SIGN,
    ),
    "completed": TemplateText(
        "Completed: $package",
        "Hello $first_name,\n\nYou completed $package on $completed_on. Thank you.\n"
        "Your transcript: $link" + _SIGN,
    ),
    "manager_digest": TemplateText(
        "Your team: $count overdue",
        "Hello $first_name,\n\n$count of the people you manage are overdue:\n\n$people\n\n"
        "See your team: $link" + _SIGN,
    ),
}

#: The values a preview renders with.
SAMPLE: dict[str, str] = {
    "first_name": "Ada",
    "full_name": "Ada Lovelace",
    "package": "2026 Cybersecurity Training",
    "due_date": "2026-12-31",
    "days_left": "14",
    "days_overdue": "3",
    "expires_on": "2027-01-31",
    "completed_on": "2026-01-31",
    "enrolled_on": "2026-12-01",
    "link": "https://coursepack.example/my-training/",
    "count": "2",
    "people": "Grace Hopper — 2026 Cybersecurity Training, overdue since 2026-11-20\n"
    "Alan Turing — Fire Safety, overdue since 2026-11-27",
}


def _identifiers(field: str, text: str, kind: str, problems: list[str]) -> None:
    template = string.Template(text)
    if not template.is_valid():
        problems.append(
            f"{field}: a '$' must start a placeholder such as $first_name (write $$ for a dollar sign)"
        )
        return
    allowed = PLACEHOLDERS[kind]
    for name in template.get_identifiers():
        if name not in allowed:
            problems.append(
                f"{field}: ${name} is not a placeholder of this message; use one of "
                + ", ".join(f"${n}" for n in allowed)
            )


def check(kind: str, text: TemplateText) -> None:
    """Raise TemplateInvalid unless every part of ``text`` is well formed and names only
    the kind's placeholders."""
    problems: list[str] = []
    for field in ("subject", "body_text", "body_html"):
        _identifiers(field, getattr(text, field), kind, problems)
    if "\n" in text.subject or "\r" in text.subject:
        problems.append("subject: must be one line")
    if problems:
        raise TemplateInvalid("The template cannot be used.", problems=problems)


def render(text: TemplateText, values: Mapping[str, str], *, people_html: str = "") -> Rendered:
    """Return the message ``text`` says for ``values`` (plain text; HTML with every
    value escaped, ``$people`` as the list ``people_html``)."""
    escaped = {k: html.escape(v) for k, v in values.items()}
    if "people" in values:
        escaped["people"] = people_html or "<br>".join(
            html.escape(line) for line in values["people"].splitlines()
        )
    subject = string.Template(text.subject).safe_substitute(values)
    return Rendered(
        subject=" ".join(subject.split())[:200],
        body_text=string.Template(text.body_text).safe_substitute(values),
        body_html=string.Template(text.body_html).safe_substitute(escaped)
        if text.body_html
        else "",
    )

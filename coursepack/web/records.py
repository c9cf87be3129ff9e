"""The records pages: learners, point-in-time transcripts, the audit log and publish logs.

Thin: parse the query, call a selector, render.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.audit import selectors as audit
from coursepack.errors import InvalidInput, NotFound
from coursepack.learning import roster
from coursepack.learning import transcript as transcripts
from coursepack.notifications import selectors as notification_selectors
from coursepack.organisation import selectors as organisation
from coursepack.packaging import selectors as packaging
from coursepack.replica import reads_from_replica
from coursepack.web.access import EVERYONE, PEOPLE_READERS, STAFF, role_required
from coursepack.web.operations.audit_text import ReadableRow, readable_rows

PER_PAGE = 50

# --- learners and transcripts ----------------------------------------------------


@role_required(*PEOPLE_READERS)
def learner_list(request: HttpRequest) -> HttpResponse:
    """List the learners (not admins or auditors) with their status and counts,
    searchable by name; each opens their transcript. Managers: their people only."""
    search = request.GET.get("q", "")
    learners = roster.learners_only(roster.learner_directory(search))
    scope = organisation.person_scope(request.user)
    if scope is not None:
        learners = learners.filter(scope)
    page = Paginator(learners, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/learner_list.html", {"page": page, "search": search})


def _parse_as_of(value: str) -> tuple[datetime | None, bool]:
    """Return the moment ``value`` names and whether it was a whole day.

    ``YYYY-MM-DD`` means the end of that day (what was true *on* that date);
    ``YYYY-MM-DDTHH:MM[:SS]`` that moment; both in the current time zone unless
    an offset is given. None if it names no moment.
    """
    value = value.strip()
    try:
        day = parse_date(value)
        if day is not None:
            end = datetime.combine(day, time.max)
            return timezone.make_aware(end), True
        moment = parse_datetime(value)
    except ValueError:
        return None, False
    if moment is None:
        return None, False
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment, False


def _moment_param(request: HttpRequest, name: str, label: str) -> tuple[datetime | None, bool, str]:
    """Return the moment of query parameter ``name`` (None when absent or unreadable),
    whether it was a whole day, and an error message when unreadable."""
    raw = request.GET.get(name, "")
    if not raw.strip():
        return None, False, ""
    moment, whole_day = _parse_as_of(raw)
    if moment is None:
        return (
            None,
            False,
            f"“{raw}” is not a moment: for {label}, give a date (YYYY-MM-DD) or a date "
            "and time (YYYY-MM-DDTHH:MM). Showing it as of now instead.",
        )
    return moment, whole_day, ""


@role_required(*EVERYONE)
@reads_from_replica
def transcript(request: HttpRequest, learner_id: int) -> HttpResponse:
    """Show a learner's transcript as of ``?as_of=``, as known at ``?known_at=`` (both
    default to now); ``?print=1`` for paper.

    Admins and auditors may read anyone's; a manager their people's; a learner only
    their own (anyone else's is "not found", like a learner who does not exist).
    """
    staff = accounts.role_of(request.user) in (Role.ADMIN, Role.AUDITOR)
    if not organisation.can_read_person(request.user, learner_id):
        raise Http404("There is no such learner.")
    now = timezone.now()
    as_of, whole_day, as_of_error = _moment_param(request, "as_of", "the moment")
    known_at, known_whole_day, known_error = _moment_param(request, "known_at", "“as known at”")
    errors = [e for e in (as_of_error, known_error) if e]
    try:
        found = transcripts.transcript(learner_id, as_of or now, known_at)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    params = {"as_of": as_of and request.GET["as_of"].strip()}
    params["known_at"] = known_at and request.GET["known_at"].strip()
    query = urlencode({k: v for k, v in params.items() if v})
    then_query = ""
    if as_of is not None and as_of < found.generated_at:
        then_query = urlencode({"as_of": params["as_of"], "known_at": params["as_of"]})
    context = {
        "t": found,
        "staff": staff,
        "error": " ".join(errors),
        "whole_day": whole_day,
        "known_whole_day": known_whole_day,
        "in_future": found.as_of > found.generated_at,
        "is_now": as_of is None,
        "known_now": known_at is None,
        "shown_then": known_at is not None and as_of is not None and known_at == as_of,
        # The pickers show the moments to the minute, in the current time zone.
        "as_of_input": timezone.localtime(found.as_of).strftime("%Y-%m-%dT%H:%M"),
        "known_at_input": (
            timezone.localtime(known_at).strftime("%Y-%m-%dT%H:%M") if known_at else ""
        ),
        "query": query,
        "then_query": then_query,
        "time_zone": timezone.get_current_timezone_name(),
        # The messages sent to the learner (reminders, notices), newest first.
        "sent_messages": notification_selectors.messages(recipient_id=learner_id)[:20],
        "message_count": notification_selectors.messages(recipient_id=learner_id).count(),
    }
    template = "web/transcript_print.html" if request.GET.get("print") else "web/transcript.html"
    return render(request, template, context, status=400 if errors else 200)


# --- the audit log ------------------------------------------------------------------


class AuditFilterForm(forms.Form):
    """The audit log's filters, as query parameters ``actor``, ``action``, ``package``,
    ``from`` and ``to`` (days, both included)."""

    def __init__(self, data: Any, *, choices: audit.FilterChoices) -> None:
        super().__init__(data)
        date = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["actor"] = forms.CharField(
            required=False,
            label="Actor",
            widget=forms.TextInput(attrs={"list": "audit-actors", "placeholder": "anyone"}),
        )
        self.fields["action"] = forms.ChoiceField(
            required=False,
            label="Action",
            choices=[("", "All actions"), *((a, a) for a in choices.actions)],
        )
        self.fields["package"] = forms.TypedChoiceField(
            required=False,
            coerce=int,
            empty_value=None,
            label="Package",
            choices=[("", "All packages"), *choices.packages],
        )
        # "from" is a Python keyword: the fields are named here, not as attributes.
        self.fields["from"] = forms.DateField(required=False, label="From", widget=date)
        self.fields["to"] = forms.DateField(required=False, label="To", widget=date)

    def audit_filters(self) -> audit.AuditFilters | None:
        """Return the filters, or None (with the problems added to the form's errors)."""
        if not self.is_valid():
            return None
        data = self.cleaned_data
        if data["from"] and data["to"] and data["from"] > data["to"]:
            self.add_error("to", "must be on or after the 'From' day")
            return None
        return audit.AuditFilters(
            actor=data["actor"] or "",
            action=data["action"] or "",
            package_id=data["package"],
            since=data["from"],
            until=data["to"],
        )


@role_required(*STAFF)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, 50 to a page, filtered by actor, action, package and days."""
    choices = audit.filter_choices(package_names=packaging.package_names)
    form = AuditFilterForm(request.GET or None, choices=choices)
    filters = form.audit_filters() if request.GET else audit.AuditFilters()
    page = None
    rows: list[ReadableRow] = []
    if filters is not None:
        try:
            events = audit.audit_events(filters)
        except InvalidInput as exc:
            form.add_error(None, exc.message)
        else:
            page = Paginator(events, PER_PAGE).get_page(request.GET.get("page"))
            rows = readable_rows(list(page.object_list))
    filtered = any(request.GET.get(k) for k in ("actor", "action", "package", "from", "to"))
    return render(
        request,
        "web/audit_log.html",
        {
            "form": form,
            "choices": choices,
            "page": page,
            "rows": rows,
            "filtered": filtered,
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=200 if page is not None else 400,
    )


# --- publish logs --------------------------------------------------------------------


@role_required(*STAFF)
def publish_log(request: HttpRequest, package_id: int) -> HttpResponse:
    """A package's publish log: who published, scheduled, activated or archived which
    version, when, with what change notes and what happened to enrolled learners."""
    try:
        package = packaging.get_package(package_id)
        records = packaging.publish_log(package_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    return render(
        request,
        "web/publish_log.html",
        {
            "package": package,
            "records": records,
            "time_zone": timezone.get_current_timezone_name(),
        },
    )


__all__ = ["audit_log", "learner_list", "publish_log", "transcript"]

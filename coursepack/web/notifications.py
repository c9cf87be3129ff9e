"""Reminder pages: the run page (dry run, run now, progress), a package's reminder
schedule, the message templates with a preview, and the message log. Thin: parse,
call services and selectors, render (ADR 0026)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.errors import DomainError, NotFound
from coursepack.jobs import api as jobs
from coursepack.jobs import selectors as job_selectors
from coursepack.jobs.models import JobKind
from coursepack.notifications import api as notifications
from coursepack.notifications import selectors, texts
from coursepack.packaging import selectors as packaging
from coursepack.web.access import STAFF, role_required
from coursepack.web.operations.common import ADMINS, PER_PAGE, done, show_error

KIND_LABELS = dict(selectors.kinds())
STATUS_LABELS = {
    "pending": "Pending",
    "sending": "Sending",
    "sent": "Sent",
    "failed": "Failed",
    "skipped": "Skipped",
}


def _is_admin(request: HttpRequest) -> bool:
    return bool(accounts.role_of(request.user) in ADMINS)


class DryRunForm(forms.Form):
    as_of = forms.DateField(
        required=False,
        label="As of",
        help_text="Empty: now. A date: the end of that day (UTC), e.g. to see next week's reminders.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _runs() -> list[dict[str, Any]]:
    return [
        {"job": job, "dry_run": bool(job.result.get("dry_run", job.total == 1))}
        for job in job_selectors.jobs_of_kind(JobKind.REMINDERS, limit=20)
    ]


@role_required(*STAFF)
def reminders(request: HttpRequest) -> HttpResponse:
    """The reminder runs: start a dry run or a real one (admins), and the latest runs."""
    form = DryRunForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not _is_admin(request):
            raise Http404("There is no such page.")
        dry_run = request.POST.get("action") != "send"
        if form.is_valid():
            day = form.cleaned_data["as_of"]
            as_of = (
                datetime.combine(day, time(23, 59, 59), tzinfo=timezone.get_current_timezone())
                if day and dry_run
                else None
            )
            try:
                job = jobs.start_reminder_run(actor=request.user, dry_run=dry_run, as_of=as_of)
            except DomainError as exc:
                show_error(form, exc)
            else:
                done(
                    request,
                    f"Queued {'a dry run' if dry_run else 'a reminder run'} (run {job.pk}).",
                )
                return redirect("web:reminder-run", job_id=job.pk)
    return render(
        request,
        "web/notifications/reminders.html",
        {"form": form, "runs": _runs(), "is_admin": _is_admin(request)},
        status=400 if form.errors else 200,
    )


@role_required(*STAFF)
def run(request: HttpRequest, job_id: int) -> HttpResponse:
    """One run: its progress while it runs, then what it would send or did send."""
    try:
        job = job_selectors.job_progress(job_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    if job.kind != JobKind.REMINDERS:
        raise Http404("There is no such reminder run.")
    result = job.result
    by_kind: dict[str, Any] = dict(result.get("by_kind") or result.get("claimed") or {})  # type: ignore[call-overload]
    return render(
        request,
        "web/notifications/run.html",
        {
            "job": job,
            "running": job.status in ("queued", "running"),
            "dry_run": result.get("dry_run", job.total == 1),
            "by_kind": [(KIND_LABELS.get(k, k), n) for k, n in by_kind.items()],
            "result": result,
            "as_of": datetime.fromisoformat(str(result["as_of"])) if result.get("as_of") else None,
        },
    )


class ScheduleForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Send reminders for this package")
    send_assigned = forms.BooleanField(required=False, label="When someone is enrolled")
    due_soon_days = forms.CharField(
        required=False,
        max_length=100,
        label="Due soon: days before the due date",
        help_text="Whole days, separated by commas, e.g. 30, 14, 1. Empty: none.",
    )
    overdue_every_days = forms.IntegerField(
        min_value=0,
        max_value=366,
        label="Overdue: every how many days",
        help_text="The first on the due date, then this often while overdue. 0: none.",
    )
    expiring_days = forms.CharField(
        required=False,
        max_length=100,
        label="Expiring: days before a completion expires",
        help_text="Whole days, separated by commas, e.g. 30, 7. Empty: none.",
    )
    send_completed = forms.BooleanField(required=False, label="When someone completes it")

    def _days(self, name: str) -> list[int]:
        raw = self.cleaned_data.get(name) or ""
        parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
        if not all(p.isdigit() for p in parts):
            raise forms.ValidationError("Give whole numbers of days, separated by commas.")
        return [int(p) for p in parts]

    def clean_due_soon_days(self) -> list[int]:
        return self._days("due_soon_days")

    def clean_expiring_days(self) -> list[int]:
        return self._days("expiring_days")


def _schedule_initial(schedule: selectors.Schedule) -> dict[str, Any]:
    return {
        "enabled": schedule.enabled,
        "send_assigned": schedule.send_assigned,
        "due_soon_days": ", ".join(str(d) for d in sorted(schedule.due_soon_days, reverse=True)),
        "overdue_every_days": schedule.overdue_every_days,
        "expiring_days": ", ".join(str(d) for d in sorted(schedule.expiring_days, reverse=True)),
        "send_completed": schedule.send_completed,
    }


@role_required(*STAFF)
def schedule(request: HttpRequest, package_id: int) -> HttpResponse:
    """A package's reminder schedule; admins change it."""
    try:
        overview = packaging.get_package(package_id)
        current = selectors.schedule_of_package(package_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    form = ScheduleForm(
        request.POST if request.method == "POST" else None, initial=_schedule_initial(current)
    )
    if request.method == "POST":
        if not _is_admin(request):
            raise Http404("There is no such page.")
        if form.is_valid():
            try:
                notifications.set_schedule(
                    actor=request.user, package_id=package_id, **form.cleaned_data
                )
            except DomainError as exc:
                show_error(form, exc)
            else:
                done(request, "Saved the reminder schedule.")
                return redirect("web:package-reminders", package_id=package_id)
    return render(
        request,
        "web/notifications/schedule.html",
        {
            "package": overview,
            "schedule": current,
            "form": form,
            "is_admin": _is_admin(request),
        },
        status=400 if form.errors else 200,
    )


@role_required(*STAFF)
def template_list(request: HttpRequest) -> HttpResponse:
    """Every kind of message and whether an admin changed its text."""
    rows = []
    for kind in texts.PLACEHOLDERS:
        text, row = selectors.template_of(kind)
        rows.append({"kind": kind, "label": KIND_LABELS[kind], "text": text, "row": row})
    return render(request, "web/notifications/templates.html", {"rows": rows})


class TemplateForm(forms.Form):
    subject = forms.CharField(max_length=200, label="Subject")
    body_text = forms.CharField(
        max_length=20_000, label="Message (plain text)", widget=forms.Textarea({"rows": 9})
    )
    body_html = forms.CharField(
        required=False,
        max_length=50_000,
        label="Message (HTML, optional)",
        help_text="Sent beside the plain text when given. Values are escaped.",
        widget=forms.Textarea({"rows": 5}),
    )


@role_required(*STAFF)
def template_edit(request: HttpRequest, kind: str) -> HttpResponse:
    """One kind's text: preview it with sample values, save it, or go back to the
    built-in text (admins)."""
    if kind not in texts.PLACEHOLDERS:
        raise Http404("There is no such kind of message.")
    text, row = selectors.template_of(kind)
    form = TemplateForm(request.POST if request.method == "POST" else None, initial=vars(text))
    preview = None
    if request.method == "POST":
        if not _is_admin(request):
            raise Http404("There is no such page.")
        action = request.POST.get("action", "preview")
        if action == "reset":
            notifications.reset_template(actor=request.user, kind=kind)
            done(request, f"The {KIND_LABELS[kind].lower()} message is back to the built-in text.")
            return redirect("web:reminder-template", kind=kind)
        if form.is_valid():
            try:
                if action == "save":
                    notifications.set_template(actor=request.user, kind=kind, **form.cleaned_data)
                    done(request, f"Saved the {KIND_LABELS[kind].lower()} message.")
                    return redirect("web:reminder-template", kind=kind)
                preview = notifications.preview_template(kind=kind, **form.cleaned_data)
            except DomainError as exc:
                show_error(form, exc)
    elif request.method == "GET":
        preview = notifications.preview_template(kind=kind)
    return render(
        request,
        "web/notifications/template.html",
        {
            "kind": kind,
            "label": KIND_LABELS[kind],
            "form": form,
            "row": row,
            "preview": preview,
            "placeholders": [(n, texts.MEANINGS[n]) for n in texts.PLACEHOLDERS[kind]],
            "is_admin": _is_admin(request),
        },
        status=400 if form.errors else 200,
    )


class LogFilters(forms.Form):
    person = forms.CharField(required=False, max_length=150, label="Person")
    kind = forms.ChoiceField(
        required=False, label="Kind", choices=[("", "Any kind"), *selectors.kinds()]
    )
    status = forms.ChoiceField(
        required=False, label="Result", choices=[("", "Any result"), *STATUS_LABELS.items()]
    )


@role_required(*STAFF)
def message_log(request: HttpRequest) -> HttpResponse:
    """Every message, newest first, paged; filter by person, kind and result."""
    filters = LogFilters(request.GET)
    wanted = filters.cleaned_data if filters.is_valid() else {}
    rows = selectors.messages(
        person=(wanted.get("person") or "").replace("\x00", ""),
        kind=wanted.get("kind") or None,
        status=wanted.get("status") or None,
    )
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/notifications/messages.html",
        {"filters": filters, "page": page, "kinds": KIND_LABELS, "statuses": STATUS_LABELS},
    )


def messages_for(learner_id: int, limit: int = 20) -> list[Any]:
    """Return a learner's latest messages, for their record page."""
    return list(selectors.messages(recipient_id=learner_id)[:limit])

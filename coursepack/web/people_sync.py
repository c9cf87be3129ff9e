"""The people sync page (admins): upload an HR people file, see what it would change
(the dry run), then apply it as a background job whose progress the job page shows."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from coursepack.errors import DomainError, NotFound
from coursepack.jobs import api as jobs
from coursepack.organisation import api as organisation
from coursepack.web.access import ADMIN, role_required
from coursepack.web.operations.common import done, show_error

#: How many rows of each kind the preview lists (the counts are always whole).
SHOWN = 200


class PeopleFileForm(forms.Form):
    people_file = forms.FileField(
        label="People file (CSV)",
        help_text=(
            "UTF-8 CSV with a header row. Columns: "
            + ", ".join(organisation.COLUMNS)
            + ". external_id is required; org_unit is a unit's code (the unit must exist)."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    full = forms.BooleanField(
        required=False,
        label="This file lists everyone: deactivate people who are not in it",
        help_text="Leave it unticked for a file of changes only.",
    )


@role_required(*ADMIN)
def upload(request: HttpRequest) -> HttpResponse:
    """Upload a people file; its dry run is shown next, nothing about people is written."""
    form = PeopleFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            columns, rows = organisation.parse_people_csv(form.cleaned_data["people_file"].read())
            sync, _ = organisation.stage_people_sync(
                actor=request.user, columns=columns, rows=rows, full=form.cleaned_data["full"]
            )
        except DomainError as exc:
            show_error(form, exc)
            form.add_error("people_file", exc.message)
        else:
            return redirect("web:people-sync-preview", sync_id=sync.pk)
    return render(
        request,
        "web/people_sync_upload.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


def _sync(sync_id: int) -> Any:
    try:
        return organisation.get_people_sync(sync_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc


@role_required(*ADMIN)
def preview(request: HttpRequest, sync_id: int) -> HttpResponse:
    """What applying the file would do now: counts, then each create, update (with the
    fields it changes), deactivation and row with problems."""
    sync = _sync(sync_id)
    plan = None
    if sync.status == "staged":
        plan = organisation.plan_people_sync(
            columns=sync.columns,
            rows=organisation.stored_rows(sync),
            full=sync.full,
            actor=request.user,
        )
    return render(
        request,
        "web/people_sync_preview.html",
        {
            "sync": sync,
            "plan": plan,
            "counts": plan.counts() if plan else sync.preview,
            "shown": SHOWN,
            "creates": plan.creates[:SHOWN] if plan else [],
            "updates": plan.updates[:SHOWN] if plan else [],
            "deactivations": plan.deactivations[:SHOWN] if plan else [],
            "errors": plan.errors[:SHOWN] if plan else [],
        },
    )


@require_POST
@role_required(*ADMIN)
def apply(request: HttpRequest, sync_id: int) -> HttpResponse:
    """Apply a previewed people file as a background job, then follow its progress."""
    _sync(sync_id)
    try:
        job = jobs.start_people_sync(actor=request.user, sync_id=sync_id)
    except DomainError as exc:
        from django.contrib import messages

        messages.error(request, exc.message)
        return redirect("web:people-sync-preview", sync_id=sync_id)
    done(request, f"The people sync is running as job {job.pk}; this page shows its progress.")
    return redirect("web:job", job_id=job.pk)

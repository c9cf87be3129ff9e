"""A learner's progress in one enrollment (with the engine's explanation), recording
a completion for them, and voiding an event with a reason; and "My training"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from coursepack import rules
from coursepack.accounts import api as accounts
from coursepack.accounts.models import Role
from coursepack.errors import DomainError, NotFound
from coursepack.learning import api as learning
from coursepack.learning import lifecycle_selectors, roster
from coursepack.learning import selectors as learning_selectors
from coursepack.learning.models import Enrollment
from coursepack.organisation import selectors as organisation
from coursepack.packaging import selectors as packaging
from coursepack.web.access import EVERYONE, role_required
from coursepack.web.operations.common import ADMINS, done, safe_next, show_error
from coursepack.web.operations.forms import ReasonForm, RecordCompletionForm


def _course_choices(tree: rules.RequirementTree) -> list[tuple[int, str]]:
    found: dict[int, str] = {}
    stack: list[rules.Item] = list(reversed(tree.items))
    while stack:
        node = stack.pop().node
        if isinstance(node, rules.CourseRef):
            found.setdefault(node.course_id, f"{node.code} {node.name}")
        else:
            stack.extend(reversed(node.items))
    return list(found.items())


def _visible_enrollment(request: HttpRequest, enrollment_id: int) -> Enrollment:
    """Return the enrollment if the user may see it (staff: any; managers: their
    people's; learners: their own). Anyone else's is "not found", as a missing one."""
    try:
        enrollment = learning_selectors.get_enrollment(enrollment_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    if not organisation.can_read_person(request.user, enrollment.learner_id):
        raise Http404(f"There is no enrollment with id {enrollment_id}.")
    return enrollment


@role_required(*EVERYONE)
def progress(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """One enrollment: status, progress, every requirement's state and why it is not
    complete; the learner's events on its courses; for admins, record and void."""
    enrollment = _visible_enrollment(request, enrollment_id)
    return _progress_page(request, enrollment, None)


def _progress_page(
    request: HttpRequest,
    enrollment: Enrollment,
    form: RecordCompletionForm | None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    tree = packaging.requirement_tree(enrollment.version_id)
    evaluation = learning_selectors.enrollment_progress(enrollment, as_of=now)
    is_admin = accounts.role_of(request.user) == Role.ADMIN
    lifecycle = lifecycle_selectors.enrollment_lifecycle(enrollment, as_of=now)
    if is_admin and form is None:
        form = RecordCompletionForm(
            courses=_course_choices(tree),
            initial={"occurred_at": timezone.localtime(now).replace(second=0, microsecond=0)},
        )
    if form is not None:
        form.fields[
            "occurred_at"
        ].help_text = f"When the learner finished, in {timezone.get_current_timezone_name()} time."
    return render(
        request,
        "web/ops/progress.html",
        {
            "enrollment": enrollment,
            "learner": enrollment.learner,
            "evaluation": evaluation,
            "why": evaluation.why_not_complete(),
            "events": roster.enrollment_events(enrollment),
            "form": form,
            "is_admin": is_admin,
            "lifecycle": lifecycle,
            "exemptions": lifecycle_selectors.enrollment_exemptions(enrollment.pk),
            "own": enrollment.learner_id == request.user.pk,
            "time_zone": timezone.get_current_timezone_name(),
        },
        status=status,
    )


@role_required(*ADMINS)
def record_completion(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """Record a completion (or a pass or fail) for the enrollment's learner."""
    enrollment = _visible_enrollment(request, enrollment_id)
    if request.method != "POST":
        return redirect("web:progress", enrollment_id=enrollment_id)
    tree = packaging.requirement_tree(enrollment.version_id)
    form = RecordCompletionForm(request.POST, courses=_course_choices(tree))
    if form.is_valid():
        data = form.cleaned_data
        occurred: datetime = data["occurred_at"]
        if timezone.is_naive(occurred):
            occurred = timezone.make_aware(occurred)
        try:
            result = learning.record_completion(
                actor=request.user,
                learner_id=enrollment.learner_id,
                course_id=data["course"],
                kind=data["kind"],
                occurred_at=occurred,
                source=data["source"],
                evidence_note=data["evidence_note"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            choices: Any = form.fields["course"]
            course = dict(choices.choices)[data["course"]]
            who = enrollment.learner.get_full_name() or enrollment.learner.username
            done(request, f"Recorded {course} as {data['kind']} for {who}.")
            return redirect(
                reverse("web:progress", args=[enrollment_id]) + f"#event-{result.event.pk}"
            )
    return _progress_page(request, enrollment, form, status=400)


@role_required(*ADMINS)
def void_event(request: HttpRequest, event_id: int) -> HttpResponse:
    """Confirm, with a reason, that a completion event no longer counts."""
    event = roster.get_event(event_id)
    if event is None:
        raise Http404("There is no such completion event.")
    back = safe_next(request, reverse("web:transcript", args=[event.learner_id]))
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            learning.void_event(
                actor=request.user, event_id=event_id, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            who = event.learner.get_full_name() or event.learner.username
            done(request, f"Voided {who}'s {event.course.code} {event.kind} event.")
            return redirect(back)
    return render(
        request,
        "web/ops/void.html",
        {"event": event, "form": form, "next": back},
        status=400 if form.errors else 200,
    )


@role_required(*EVERYONE)
def my_training(request: HttpRequest) -> HttpResponse:
    """The learner's home: each enrollment, what to do next, what is locked and why."""
    user: Any = request.user
    cards, withdrawn = roster.my_training(user.pk, timezone.now())
    return render(
        request,
        "web/ops/my_training.html",
        {"cards": cards, "withdrawn": withdrawn},
    )

"""Publishing a draft, comparing two versions, and previewing a version as a learner.

Thin: parse, call ``packaging.api`` / ``learning.api`` and the selectors, render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from coursepack import rules
from coursepack.errors import DomainError, NotFound
from coursepack.jobs import api as jobs
from coursepack.learning import api as learning
from coursepack.packaging import api as packaging
from coursepack.packaging import overviews, selectors
from coursepack.packaging.errors import PublishValidationFailed, StaleRevision
from coursepack.web.access import ADMIN, STAFF, role_required
from coursepack.web.authoring.common import actor, not_found
from coursepack.web.authoring.errors import FormErrors, form_errors

LABELS = {
    "change_notes": "Change notes",
    "effective_at": "Effective date",
    "inflight_policy": "Enrolled learners",
}
POLICY_TEXT = {
    "keep": (
        "Keep everyone on their version",
        "Learners already enrolled finish the version they started; only new enrollments "
        "get this one.",
    ),
    "move_not_started": (
        "Move learners who have not started",
        "Learners with nothing counted yet move to this version; the others stay.",
    ),
    "move_in_progress": (
        "Move learners who have not finished, keeping their credit",
        "Everyone not yet complete moves; courses they completed still count.",
    ),
}


def _version(version_id: int) -> Any:
    try:
        return selectors.get_version(version_id)
    except NotFound as exc:
        raise not_found(exc) from exc


def _parse_effective(raw: str, errors: FormErrors) -> datetime | None:
    raw = raw.strip()
    if not raw:
        errors.add("effective_at", "Enter the date and time the version takes effect")
        return None
    moment = parse_datetime(raw)
    if moment is None:
        errors.add("effective_at", "Effective date must be a date and time, like 2027-01-15 09:00")
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@role_required(*ADMIN)
def publish(request: HttpRequest, version_id: int) -> HttpResponse:
    """Confirm publishing a draft: every problem at once, who is on the current version,
    what each in-flight policy would do, when it takes effect, and the change notes."""
    version = _version(version_id)
    if version.status != "draft":
        messages.info(request, f"Version {version.version_number} is already {version.status}.")
        return redirect(
            reverse("web:package", args=[version.package_id]) + f"?v={version.version_number}"
        )
    errors = FormErrors(labels=LABELS)
    values = {"change_notes": "", "effective": "now", "effective_at": "", "inflight_policy": "keep"}
    if request.method == "POST":
        values = {k: request.POST.get(k, values[k]) for k in values}
        if not values["change_notes"].strip():
            errors.add(
                "change_notes",
                "Enter change notes: say what changed and why, for the audit record",
            )
        effective_at = None
        if values["effective"] == "later":
            effective_at = _parse_effective(values["effective_at"], errors)
        if values["inflight_policy"] not in POLICY_TEXT:
            errors.add("inflight_policy", "Choose what happens to enrolled learners")
        if not errors:
            try:
                started = jobs.start_publish(
                    actor=actor(request),
                    version_id=version_id,
                    change_notes=values["change_notes"],
                    effective_at=effective_at,
                    inflight_policy=values["inflight_policy"],  # type: ignore[arg-type]
                    expected_revision=_int(request.POST.get("revision")),
                )
            except PublishValidationFailed:
                pass  # the problems are listed again below, at their items
            except StaleRevision as exc:
                errors.general.append(exc.message + " Check the draft below, then publish again.")
            except DomainError as exc:
                errors = form_errors(exc, LABELS)
            else:
                outcome = started.outcome
                messages.success(request, _published_message(outcome))
                if started.moves_job is not None:
                    messages.info(
                        request,
                        f"Moving {started.moves_job.total} enrolled learners to "
                        f"v{outcome.version.version_number} in the background. Until each "
                        "is moved, they stay on "
                        f"v{outcome.previous.version_number if outcome.previous else ''} "
                        "with their status there.",
                    )
                    return redirect(reverse("web:job", args=[started.moves_job.pk]))
                return redirect(
                    reverse("web:package", args=[version.package_id])
                    + f"?v={outcome.version.version_number}"
                )
    version = _version(version_id)
    problems = packaging.located_publish_problems(version_id)
    if problems and request.method == "POST":
        errors.general[:0] = [
            f"Version {version.version_number} cannot be published until the "
            f"{len(problems)} problem{'s' if len(problems) > 1 else ''} below "
            f"{'are' if len(problems) > 1 else 'is'} fixed."
        ]
    preview = learning.preview_publish(version_id=version_id)
    view = overviews.package_draft_view(version_id)
    by_position = {item.position: item for item in view.items}
    return render(
        request,
        "web/authoring/publish.html",
        {
            "version": version,
            "view": view,
            "problems": [
                (p, by_position.get(p.position) if p.position else None) for p in problems
            ],
            "preview": preview,
            "policies": [
                (p, *POLICY_TEXT[p.policy]) for p in preview.policies if p.policy in POLICY_TEXT
            ],
            "values": values,
            "errors": errors,
            "today": timezone.localtime().strftime("%Y-%m-%dT09:00"),
        },
        status=422 if errors else 200,
    )


def _int(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _published_message(outcome: packaging.PublishOutcome) -> str:
    v = outcome.version
    if outcome.scheduled:
        when = timezone.localtime(v.effective_from).strftime("%d %b %Y, %H:%M %Z")
        text = (
            f"Version {v.version_number} is scheduled: it takes effect on {when}. "
            "Until then new enrollments get the active version."
        )
    else:
        text = f"Version {v.version_number} is published and active: new enrollments get it."
        if outcome.previous is not None:
            text += f" Version {outcome.previous.version_number} is archived."
    if outcome.moved_enrollments:
        text += f" {outcome.moved_enrollments} enrolled learners moved to it."
    elif (
        outcome.previous is not None
        and not outcome.scheduled
        and outcome.record.inflight_policy in ("", "keep")
    ):
        text += f" Learners on v{outcome.previous.version_number} keep it."
    return text


@role_required(*STAFF)
def compare(request: HttpRequest, package_id: int) -> HttpResponse:
    """Compare any two versions of a package: added, removed, modified, moved items, and
    group-version changes with what changed inside."""
    try:
        package = selectors.get_package(package_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    choices = overviews.version_choices(package_id)
    numbers = {number: pk for pk, number, _ in choices}
    old_n = _int(request.GET.get("from"))
    new_n = _int(request.GET.get("to"))
    if old_n is None and new_n is None and len(choices) >= 2:
        new_n, old_n = choices[0][1], choices[1][1]
    context: dict[str, Any] = {
        "package": package,
        "choices": choices,
        "old_n": old_n,
        "new_n": new_n,
        "errors": FormErrors(labels={"from": "From", "to": "To"}),
    }
    if old_n is not None and new_n is not None:
        if old_n not in numbers or new_n not in numbers:
            raise Http404("That package has no such version.")
        if old_n == new_n:
            context["errors"].add("to", "Choose two different versions to compare")
        else:
            result = selectors.diff_versions(numbers[old_n], numbers[new_n])
            context["diff"] = result
            context["lines"] = _lines(result)
    return render(request, "web/authoring/compare.html", context)


def _lines(result: rules.VersionDiff) -> list[tuple[str, str]]:
    """Return (kind, text) per change: added, removed, moved or modified."""
    out: list[tuple[str, str]] = []
    for line in result.summary():
        mark, text = line[:1], line[2:]
        if mark == "+":
            out.append(("added", text))
        elif mark == "-":
            out.append(("removed", text))
        else:
            moved_only = "moved from position" in text and ";" not in text and "group v" not in text
            out.append(("moved" if moved_only else "modified", text))
    return out


@role_required(*STAFF)
def preview(request: HttpRequest, version_id: int) -> HttpResponse:
    """Show what a learner on this version would see, without enrolling anyone.

    Simulate: tick courses as done and the page shows the status and explanations
    that would follow. The ticks live in the page's address only; nothing is stored.
    """
    version = _version(version_id)
    try:
        tree = selectors.requirement_tree(version_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    done = {int(v) for v in request.GET.getlist("done") if v.isdigit()}
    now = timezone.now()
    events = [
        rules.LearnerEvent(
            event_id=index, course_id=course_id, kind=rules.EventKind.COMPLETED, occurred_at=now
        )
        for index, course_id in enumerate(sorted(done), start=1)
        if course_id in rules.course_ids(tree)
    ]
    evaluation = rules.evaluate(tree, events, now)
    return render(
        request,
        "web/authoring/preview.html",
        {
            "version": version,
            "tree": tree,
            "evaluation": evaluation,
            "done": done,
            "simulating": bool(events),
            "why": evaluation.why_not_complete(),
        },
    )


@role_required(*ADMIN)
def publish_group(request: HttpRequest, group_version_id: int) -> HttpResponse:
    """Confirm publishing a group draft: every problem at once, and the change notes."""
    try:
        view = overviews.group_draft_view(group_version_id)
    except NotFound as exc:
        raise not_found(exc) from exc
    if not view.is_draft:
        messages.info(request, f"Group v{view.version_number} is already published.")
        return redirect("web:group", group_id=view.owner_id)
    errors = FormErrors(labels=LABELS)
    values = {"change_notes": ""}
    if request.method == "POST":
        values["change_notes"] = request.POST.get("change_notes", "")
        try:
            packaging.publish_group_version(
                actor=actor(request),
                group_version_id=group_version_id,
                change_notes=values["change_notes"],
                expected_revision=_int(request.POST.get("revision")),
            )
        except PublishValidationFailed:
            errors.general.append(
                f"Group {view.name} cannot be published until the problems below are fixed."
            )
        except DomainError as exc:
            errors = form_errors(exc, LABELS)
        else:
            messages.success(
                request,
                f"Group {view.name} v{view.version_number} is published: packages can use it now.",
            )
            return redirect("web:group", group_id=view.owner_id)
    problems = packaging.located_publish_problems(group_version_id, group=True)
    by_position = {item.position: item for item in view.items}
    return render(
        request,
        "web/authoring/publish_group.html",
        {
            "view": view,
            "problems": [
                (p, by_position.get(p.position) if p.position else None) for p in problems
            ],
            "values": values,
            "errors": errors,
        },
        status=422 if errors else 200,
    )

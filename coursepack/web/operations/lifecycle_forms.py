"""The forms of the lifecycle pages (due dates, exemptions): input parsing only."""

from __future__ import annotations

from typing import Any

from django import forms

from coursepack import rules

WAIVER_LABELS = {
    rules.WaiverReason.TESTED_OUT: "Tested out",
    rules.WaiverReason.EQUIVALENT_AU: "Equivalent activity",
    rules.WaiverReason.EQUIVALENT_OUTSIDE_ACTIVITY: "Equivalent outside activity",
    rules.WaiverReason.ADMINISTRATIVE: "Administrative",
}

_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _accept_ticked(form: forms.Form) -> None:
    """Let a bulk form's ``enrollments`` field take the ids ticked on the standing page.

    Any ticked id is accepted here; the service refuses unknown or closed ones.
    """
    field: Any = form.fields["enrollments"]
    data: Any = form.data
    field.choices = [(v, v) for v in (data.getlist("enrollments") if form.is_bound else [])]
    field.error_messages["required"] = "Tick at least one learner."


class ExtendDueForm(forms.Form):
    """A new due date and why."""

    due_at = forms.DateTimeField(label="New due date", widget=_DATETIME)
    reason = forms.CharField(
        label="Reason", max_length=20_000, widget=forms.Textarea(attrs={"rows": 3})
    )


class BulkExtendForm(ExtendDueForm):
    """A new due date for the ticked enrollments."""

    enrollments = forms.TypedMultipleChoiceField(coerce=int, label="Learners")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _accept_ticked(self)


class ExemptForm(forms.Form):
    """What to exempt the enrollment from, the cmi5 reason and a note."""

    item = forms.ChoiceField(label="Exempt from", required=False)
    reason = forms.ChoiceField(
        label="Reason", choices=[("", "Choose a reason"), *WAIVER_LABELS.items()]
    )
    note = forms.CharField(
        label="Note", required=False, max_length=20_000, widget=forms.Textarea(attrs={"rows": 3})
    )
    ends_at = forms.DateTimeField(
        label="Valid until (optional)",
        required=False,
        widget=_DATETIME,
        help_text="For a waiver with an end, e.g. a leave: from then on it no longer counts. "
        "Leave empty for no end.",
    )

    def __init__(self, *args: Any, items: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["item"]
        field.choices = [("", "The whole enrollment"), *items]

    def target(self) -> tuple[int | None, int | None]:
        """Return (course_id, group_id) of the chosen item; (None, None) for all of it."""
        kind, _, pk = self.cleaned_data["item"].partition(":")
        if kind == "course":
            return int(pk), None
        if kind == "group":
            return None, int(pk)
        return None, None


def item_choices(tree: rules.RequirementTree) -> list[tuple[str, str]]:
    """Return each course and group of a requirement tree as a choice, in tree order."""
    found: dict[str, str] = {}
    stack: list[rules.Item] = list(reversed(tree.items))
    while stack:
        node = stack.pop().node
        if isinstance(node, rules.CourseRef):
            found.setdefault(f"course:{node.course_id}", f"Course {node.code} {node.name}")
        else:
            found.setdefault(f"group:{node.group_id}", f"Group {node.name}")
            stack.extend(reversed(node.items))
    return list(found.items())


class BulkExemptForm(ExemptForm):
    """An exemption for the ticked enrollments."""

    enrollments = forms.TypedMultipleChoiceField(coerce=int, label="Learners")

    def __init__(self, *args: Any, items: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, items=items, **kwargs)
        _accept_ticked(self)

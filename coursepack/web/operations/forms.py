"""The forms of the operations pages: input parsing only, no business rules."""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from coursepack.accounts.models import Role
from coursepack.learning.models import EventSource

# A CSV larger than this is refused before it is read (about a million usernames).
MAX_CSV_BYTES = 20 * 1024 * 1024

RECORDABLE_KINDS = [
    ("completed", "Completed"),
    ("passed", "Passed"),
    ("failed", "Failed (an attempt, not a completion)"),
]


class EnrolForm(forms.Form):
    """Who to enrol in which package: ticked learners, pasted usernames, or a CSV file."""

    package = forms.TypedChoiceField(coerce=int, label="Package")
    learners = forms.TypedMultipleChoiceField(coerce=int, required=False, label="Learners")
    usernames = forms.CharField(
        required=False,
        label="Usernames",
        help_text="One username per line, or separated by commas or spaces.",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "autocapitalize": "none"}),
    )
    csv_file = forms.FileField(
        required=False,
        label="CSV file",
        help_text="A column headed “username”, or usernames in the first column.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    notes = forms.CharField(required=False, max_length=2000, label="Notes for the audit log")

    def __init__(self, *args: Any, packages: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        package: Any = self.fields["package"]
        package.choices = [("", "Choose a package"), *packages]
        # Ticked learners come from the search results; any id is accepted here and
        # checked by the preview.
        learners: Any = self.fields["learners"]
        data: Any = self.data
        learners.choices = [(v, v) for v in (data.getlist("learners") if self.is_bound else [])]

    def clean_csv_file(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get("csv_file")
        if upload is not None and upload.size is not None and upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB; split it in parts.")
        return upload

    def lines(self) -> list[tuple[str, str]]:
        """Return (where, username) pairs from the form; raise ValidationError on a bad file."""
        data = self.cleaned_data
        found: list[tuple[str, str]] = []
        upload = data.get("csv_file")
        if upload is not None:
            found.extend(_csv_lines(upload))
        text = data.get("usernames") or ""
        if text.strip():
            n = 0
            for line in text.splitlines():
                for name in line.replace(",", " ").replace(";", " ").split():
                    n += 1
                    found.append((f"pasted name {n}", name))
        return found


def _csv_lines(upload: UploadedFile) -> list[tuple[str, str]]:
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise forms.ValidationError(
            "The file is not UTF-8 text; save it as “CSV UTF-8” and upload it again."
        ) from None
    if "\x00" in text:
        raise forms.ValidationError("The file is not a CSV file (it contains NUL bytes).")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    header = [h.strip().casefold() for h in rows[0]]
    column, start = (header.index("username"), 1) if "username" in header else (0, 0)
    found = []
    for number, row in enumerate(rows[start:], start=start + 1):
        if not any(cell.strip() for cell in row):
            continue  # blank lines in a spreadsheet export are not mistakes
        found.append((f"CSV line {number}", row[column] if column < len(row) else ""))
    return found


class RecordCompletionForm(forms.Form):
    """A completion to record for the learner of an enrollment."""

    course = forms.TypedChoiceField(coerce=int, label="Course")
    kind = forms.ChoiceField(choices=RECORDABLE_KINDS, initial="completed", label="Result")
    occurred_at = forms.DateTimeField(
        label="Occurred at",
        help_text="When the learner finished, in the time zone shown.",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    source = forms.ChoiceField(
        choices=EventSource.choices, initial=EventSource.MANUAL, label="Source"
    )
    evidence_note = forms.CharField(
        required=False,
        label="Evidence note",
        help_text="e.g. the certificate number, or where the paper record is kept.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, courses: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        course: Any = self.fields["course"]
        course.choices = [("", "Choose a course"), *courses]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        help_text="Say why, for the record: it is shown on the transcript.",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20_000,
    )


class NotesForm(forms.Form):
    notes = forms.CharField(
        required=False,
        label="Notes for the audit log",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=20_000,
    )


class TokenForm(forms.Form):
    """An API token to issue for someone: its name and lifetime (the service checks the maximum)."""

    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="What it is for, e.g. “HR sync”.",
    )
    expires_in_days = forms.IntegerField(
        label="Days until it expires",
        min_value=1,
        initial=90,
        help_text="At most the server's maximum.",
    )


class CreateUserForm(forms.Form):
    """A new user: who they are, their role, and how they get a password."""

    username = forms.CharField(
        max_length=150,
        label="Username",
        help_text="What they sign in with: no spaces. A name that reads like an existing "
        "one (ALICE, a1ice for alice) is refused.",
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    first_name = forms.CharField(max_length=150, required=False, label="First name")
    last_name = forms.CharField(max_length=150, required=False, label="Last name")
    email = forms.EmailField(max_length=254, required=False, label="Email")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.LEARNER, label="Role")
    password_choice = forms.ChoiceField(
        choices=[
            ("link", "Give them a set-password link (they choose their own password)"),
            ("password", "Set an initial password now"),
        ],
        initial="link",
        widget=forms.RadioSelect,
        label="Password",
    )
    password = forms.CharField(
        required=False,
        label="Initial password",
        help_text="At least 8 characters. Only if you chose to set one now.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password_choice") == "password" and not data.get("password"):
            self.add_error("password", "Enter the initial password, or choose a link instead.")
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, label="Role")


class SetPasswordForm(forms.Form):
    password = forms.CharField(
        label="New password",
        help_text="At least 8 characters.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    confirm = forms.CharField(
        label="New password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("confirm") and data["password"] != data["confirm"]:
            self.add_error("confirm", "The two passwords differ; type the same one twice.")
        return data

"""Show a refused action the GOV.UK way: a summary at the top, the message at its field.

The services' messages are shown as they are; this module only decides where.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from coursepack.errors import DomainError, InvalidInput


@dataclass
class FormErrors:
    """The errors of one form: per field, and those that belong to no field."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def add(self, name: str, message: str) -> None:
        """Add a message to a field (the first one a field gets is the one shown)."""
        self.fields.setdefault(name, message)

    @property
    def summary(self) -> list[tuple[str, str]]:
        """Return (link target, message) pairs for the error summary, fields first."""
        entries = [(f"#id_{name}", message) for name, message in self.fields.items()]
        return entries + [("#main", message) for message in self.general]


def _sentence(label: str, text: str) -> str:
    text = text.strip()
    return f"{label} {text}" if text.split(" ", 1)[0] in _VERBS else f"{label}: {text}"


_VERBS = {"is", "must", "applies", "cannot", "has", "give"}


def form_errors(
    exc: DomainError, labels: Mapping[str, str], *, field_for_message: str | None = None
) -> FormErrors:
    """Return ``exc`` as form errors: each ``field: problem`` of an InvalidInput at its
    field (named by ``labels``), other messages at ``field_for_message`` or on their own."""
    errors = FormErrors(labels=labels)
    problems = exc.problems if isinstance(exc, InvalidInput) else []
    for problem in problems:
        name, _, text = problem.partition(": ")
        if name in labels and text:
            errors.add(name, _sentence(labels[name], text))
        else:
            errors.general.append(problem)
    if not problems:
        if field_for_message is not None:
            errors.add(field_for_message, exc.message)
        else:
            errors.general.append(exc.message)
            errors.general.extend(exc.problems)
    return errors

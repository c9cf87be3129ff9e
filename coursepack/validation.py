"""Input checks shared by the services, run before anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db.models import Model

from coursepack.errors import InvalidInput


class Problems:
    """Collect every input problem, then raise them all at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(f"{field}: {message}")

    def text(self, field: str, value: str, *, max_length: int, required: bool = True) -> str:
        """Check one text input and return it stripped."""
        if not isinstance(value, str):
            self.add(field, "must be text")
            return ""
        if "\x00" in value:
            self.add(field, "must not contain NUL characters")
            return value
        value = value.strip()
        if required and not value:
            self.add(field, "is required")
        elif len(value) > max_length:
            self.add(field, f"must be at most {max_length} characters (got {len(value)})")
        return value

    def raise_if_any(self, message: str = "The input is not valid.") -> None:
        if self.items:
            raise InvalidInput(message, problems=self.items)


@contextmanager
def collecting(message: str = "The input is not valid.") -> Iterator[Problems]:
    """Yield a :class:`Problems`; raise InvalidInput on exit if any were added."""
    problems = Problems()
    yield problems
    problems.raise_if_any(message)


def full_clean(instance: Model, *, exclude: list[str] | None = None) -> None:
    """Run the model's own validation and turn its errors into InvalidInput."""
    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as exc:
        problems = [
            f"{field}: {' '.join(str(m) for m in messages)}"
            for field, messages in exc.message_dict.items()
        ]
        raise InvalidInput("The input is not valid.", problems=problems) from exc

"""Ask the database what still refers to a record, without importing the apps that do.

A lower layer (the catalog, packaging) must refuse to delete a record that a
higher layer still uses, yet may not import the higher layer's models. Every
such reference is a ``ForeignKey(on_delete=PROTECT)`` (or ``RESTRICT``), so the
model metadata lists them: this module walks those relations and counts rows.

A referring model may say in words what its rows are by defining a classmethod
``describe_references(rows) -> list[tuple[int, str]]``: (position in the message,
phrase), e.g. ``(0, "a published package version")``. Without one, its verbose
plural name is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import models
from django.db.models import ForeignObjectRel

__all__ = ["describe_references", "protected_references"]

_PROTECTING = (models.PROTECT, models.RESTRICT)
# Phrases of models without ``describe_references`` come after the described ones.
_UNDESCRIBED = 1_000


def protected_references(
    record: models.Model,
) -> Iterator[tuple[type[models.Model], models.QuerySet[Any]]]:
    """Yield (model, rows) for each protecting relation from another app to ``record``.

    The rows are a lazy queryset; nothing is read until the caller asks.
    """
    meta = record._meta
    # include_hidden: the foreign keys to a course are declared related_name="+".
    for relation in meta.get_fields(include_hidden=True):
        if not isinstance(relation, ForeignObjectRel) or relation.on_delete not in _PROTECTING:
            continue
        model = relation.related_model
        if not isinstance(model, type) or model._meta.app_label == meta.app_label:
            continue
        rows = model._base_manager.filter(**{relation.field.name: record})
        yield model, rows


def describe_references(record: models.Model) -> list[str]:
    """Return what in other apps still refers to ``record``, in words; empty if nothing."""
    found: list[tuple[int, str]] = []
    for model, rows in protected_references(record):
        describe = getattr(model, "describe_references", None)
        if describe is not None:
            found.extend(describe(rows))
        elif rows.exists():
            found.append((_UNDESCRIBED, str(model._meta.verbose_name_plural)))
    phrases: list[str] = []
    for _, phrase in sorted(found, key=lambda f: f[0]):
        if phrase not in phrases:
            phrases.append(phrase)
    return phrases

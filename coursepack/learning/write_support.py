"""Pieces every write service of learning shares: who acts, chunking, the learner lock."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model

from coursepack.audit.api import Actor
from coursepack.learning.errors import (
    LearnerNotFound,
)

_CHUNK = 2000


def _user(actor: Actor) -> Any:
    return actor if actor is not None and actor.is_authenticated else None


def _chunks(values: Iterable[int], size: int) -> Iterator[list[int]]:
    iterator = iter(values)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _lock_learner(learner_id: int) -> Any:
    """Lock the learner's row: every write about one learner is serialised on it."""
    User = get_user_model()
    try:
        return User.objects.select_for_update().get(pk=learner_id)
    except User.DoesNotExist:
        raise LearnerNotFound(f"There is no learner with id {learner_id}.") from None

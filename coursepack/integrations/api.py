"""The integrations app's services: idempotent requests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from coursepack.errors import DomainError
from coursepack.integrations.models import IdempotentRequest

__all__ = ["KEPT_HEADERS", "Answer", "IdempotencyKeyReused", "fingerprint", "once"]

#: The headers of an answer that are kept and replayed.
KEPT_HEADERS = ("Content-Type", "Location", "ETag", "Link")


class IdempotencyKeyReused(DomainError):
    """The key was used before for another request."""

    code = "idempotency_conflict"
    http_status = 409


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as stored: status, body and the headers a client reads."""

    status: int
    body: str
    headers: dict[str, str]
    replayed: bool = False


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """Return what identifies "the same request" for an idempotency key."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def once(
    *, user: User, key: str, fingerprint: str, method: str, path: str, run: Callable[[], Answer]
) -> Answer:
    """Run ``run`` once per (user, key): the first success is stored and every retry gets
    it back (``replayed``); a key already used for another request is refused.

    The key is claimed before ``run`` inside the same transaction, so a second
    request with the key waits for the first to finish (or fail) and then replays it.
    A failed answer (status >= 300) is not kept and changes nothing.
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                claim = IdempotentRequest.objects.create(
                    user=user,
                    key=key,
                    fingerprint=fingerprint,
                    method=method,
                    path=path[:2048],
                    status=0,
                    created_at=timezone.now(),
                )
        except IntegrityError:
            claim = None
        if claim is None:
            stored = IdempotentRequest.objects.get(user=user, key=key)
            if stored.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    f"The Idempotency-Key {key!r} was used for another request "
                    f"({stored.method} {stored.path}); use a new key for a new request."
                )
            return Answer(stored.status, stored.body, dict(stored.headers), replayed=True)
        answer = run()
        if not 200 <= answer.status < 300:
            transaction.set_rollback(True)
            return answer
        claim.status = answer.status
        claim.body = answer.body
        claim.headers = answer.headers
        claim.save(update_fields=["status", "body", "headers"])
        return answer

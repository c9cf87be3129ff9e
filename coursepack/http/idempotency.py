"""``Idempotency-Key`` on every POST under /api/: a retry gets the first answer again.

A middleware, not a decorator per view: it must hold the whole request — the
view's writes and the stored answer — in one transaction, and apply to every
POST, including those other modules add (ADR 0028). ``POST /completions`` keeps
its own handling (the key is the event's external id, ADR 0007).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from coursepack.http.auth import TokenAuth
from coursepack.http.problems import domain_error_response, problem_response
from coursepack.integrations import api as integrations

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_OWN_HANDLING = ("/api/v1/completions",)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _caller(request: HttpRequest) -> User | None:
    user = TokenAuth()(request)
    if isinstance(user, User):
        return user
    session_user = getattr(request, "user", None)
    if session_user is not None and session_user.is_authenticated and session_user.is_active:
        return session_user
    return None


def _answer(response: HttpResponseBase) -> integrations.Answer:
    body = response.content.decode() if isinstance(response, HttpResponse) else ""
    headers = {h: response[h] for h in integrations.KEPT_HEADERS if h in response}
    return integrations.Answer(response.status_code, body, headers)


class IdempotencyMiddleware:
    """Replay the stored answer to a POST retried with the same ``Idempotency-Key``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        key = request.headers.get(HEADER)
        if (
            key is None
            or request.method != "POST"
            or not request.path.startswith("/api/")
            or request.path in _OWN_HANDLING
        ):
            return self.get_response(request)
        user = _caller(request)
        if user is None:
            return self.get_response(request)  # refused as unauthenticated
        if not _VALID_KEY.match(key):
            return problem_response(
                status=422,
                code="invalid_input",
                detail="The Idempotency-Key must be 1-255 visible ASCII characters.",
                problems=[f"{HEADER}: must be 1-255 visible ASCII characters, e.g. a UUID"],
                errors=[
                    {
                        "parameter": HEADER,
                        "in": "header",
                        "message": "must be 1-255 visible ASCII characters, e.g. a UUID",
                    }
                ],
            )
        body = request.body
        fingerprint = integrations.fingerprint(
            request.method, request.path, request.META.get("QUERY_STRING", ""), body
        )
        responses: list[HttpResponseBase] = []

        def run() -> integrations.Answer:
            responses.append(self.get_response(request))
            return _answer(responses[0])

        try:
            answer = integrations.once(
                user=user,
                key=key,
                fingerprint=fingerprint,
                method="POST",
                path=request.path,
                run=run,
            )
        except integrations.IdempotencyKeyReused as exc:
            return domain_error_response(request, exc)
        if not answer.replayed:
            return responses[0]
        replay = HttpResponse(answer.body, status=answer.status)
        for name, value in answer.headers.items():
            replay[name] = value
        replay[REPLAYED] = "true"
        return replay

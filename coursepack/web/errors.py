"""Styled error pages (403, 404, 500) instead of Django's plain or debug ones."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader


def _message(exception: Exception | None, fallback: str) -> str:
    text = str(exception) if exception is not None else ""
    # Django's own resolver messages are dicts and paths: not for people.
    if not text or text.startswith("{") or "resolver" in text.lower() or "/" in text[:1]:
        return fallback
    return text


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Say the page exists but the user's role does not open it."""
    return render(
        request,
        "web/errors/403.html",
        {"message": _message(exception, "Your role does not give access to this page.")},
        status=403,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Say there is nothing here, and where to go instead."""
    return render(
        request,
        "web/errors/404.html",
        {"message": _message(exception, "There is nothing at this address.")},
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """Say something went wrong, without touching the database (it may be the cause)."""
    html = loader.get_template("web/errors/500.html").render({})
    return HttpResponse(html, status=500)

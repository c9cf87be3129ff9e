"""Webhook pages (admins): subscriptions, their delivery attempts, redelivery (ADR 0029)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from coursepack.errors import DomainError
from coursepack.integrations import selectors, webhooks
from coursepack.integrations.tasks import redeliver_task
from coursepack.web.access import role_required
from coursepack.web.operations.common import ADMINS, done, show_error

# A new or rotated secret is shown once, on the next page, then forgotten.
_SECRET_KEY = "cp_webhook_secret"
_ATTEMPTS_SHOWN = 50


class WebhookForm(forms.Form):
    """A subscription's URL, event types and description."""

    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="Where Coursepack POSTs each event: an https:// address of the receiving system.",
        widget=forms.TextInput(
            attrs={"inputmode": "url", "spellcheck": "false", "autocapitalize": "none"}
        ),
    )
    event_types = forms.CharField(
        label="Event types",
        required=False,
        max_length=5000,
        help_text=(
            "Comma- or space-separated, e.g. completion.recorded, enrollment.created. "
            "Empty: every event of the events feed."
        ),
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocapitalize": "none"}),
    )
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=200,
        help_text="What it is for, e.g. “HR system”.",
    )

    def types(self) -> list[str]:
        raw: str = self.cleaned_data.get("event_types", "")
        return [t for t in raw.replace(",", " ").split() if t]


def _remember_secret(request: HttpRequest, subscription_id: int, secret: str) -> None:
    request.session[_SECRET_KEY] = {"webhook": subscription_id, "secret": secret}


def _subscription_or_404(subscription_id: int) -> Any:
    try:
        return selectors.subscription(subscription_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc


@role_required(*ADMINS)
def webhook_list(request: HttpRequest) -> HttpResponse:
    """Every subscription with its state; the form to add one."""
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = webhooks.create_subscription(
                actor=request.user,
                url=form.cleaned_data["url"],
                event_types=form.types(),
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            _remember_secret(request, created.subscription.pk, created.secret)
            done(request, f"Added the webhook to {created.subscription.url}.")
            return redirect("web:webhook", subscription_id=created.subscription.pk)
    return render(
        request,
        "web/webhooks/list.html",
        {
            "subscriptions": selectors.subscriptions(),
            "form": form,
            "max_failures": settings.WEBHOOK_MAX_FAILURES,
        },
        status=400 if form.errors else 200,
    )


def _page(
    request: HttpRequest, subscription: Any, *, form: WebhookForm | None = None, status: int = 200
) -> HttpResponse:
    shown = request.session.get(_SECRET_KEY)
    secret = None
    if shown and shown.get("webhook") == subscription.pk:
        del request.session[_SECRET_KEY]
        secret = shown["secret"]
    initial = {
        "url": subscription.url,
        "event_types": ", ".join(subscription.event_types),
        "description": subscription.description,
    }
    return render(
        request,
        "web/webhooks/detail.html",
        {
            "hook": subscription,
            "secret": secret,
            "form": form or WebhookForm(initial=initial),
            "attempts": list(selectors.attempts_of(subscription.pk, limit=_ATTEMPTS_SHOWN)),
            "attempts_shown": _ATTEMPTS_SHOWN,
        },
        status=status,
    )


@role_required(*ADMINS)
def webhook(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """One subscription: its state, its latest attempts, and what an admin can do."""
    return _page(request, _subscription_or_404(subscription_id))


@require_POST
@role_required(*ADMINS)
def change(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Change the URL, event types or description."""
    subscription = _subscription_or_404(subscription_id)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            webhooks.update_subscription(
                actor=request.user,
                subscription_id=subscription.pk,
                url=form.cleaned_data["url"],
                event_types=form.types(),
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            show_error(form, exc)
        else:
            done(request, "Saved the webhook's settings.")
            return redirect("web:webhook", subscription_id=subscription.pk)
    return _page(request, subscription, form=form, status=400)


@require_POST
@role_required(*ADMINS)
def switch(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Disable a subscription, or enable it again (its failures cleared)."""
    subscription = _subscription_or_404(subscription_id)
    active = not subscription.active
    webhooks.update_subscription(actor=request.user, subscription_id=subscription.pk, active=active)
    if active:
        done(request, "Enabled the webhook: delivery resumes with the next event it has not sent.")
    else:
        done(request, "Disabled the webhook: nothing is sent until you enable it.")
    return redirect("web:webhook", subscription_id=subscription.pk)


@require_POST
@role_required(*ADMINS)
def rotate(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Give the subscription a new signing secret (shown once)."""
    subscription = _subscription_or_404(subscription_id)
    rotated = webhooks.rotate_secret(actor=request.user, subscription_id=subscription.pk)
    _remember_secret(request, subscription.pk, rotated.secret)
    done(request, "Made a new signing secret; the old one also signs for a day.")
    return redirect("web:webhook", subscription_id=subscription.pk)


@require_POST
@role_required(*ADMINS)
def delete(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Delete the subscription and its attempts."""
    subscription = _subscription_or_404(subscription_id)
    webhooks.delete_subscription(actor=request.user, subscription_id=subscription.pk)
    done(request, f"Deleted the webhook to {subscription.url}; nothing more is sent to it.")
    return redirect("web:webhooks")


@require_POST
@role_required(*ADMINS)
def redeliver(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """Queue one event to be sent again."""
    subscription = _subscription_or_404(subscription_id)
    try:
        event_id = int(request.POST.get("event_id", ""))
    except ValueError as exc:
        raise Http404("No such event.") from exc
    try:
        event = webhooks.request_redelivery(
            actor=request.user, subscription_id=subscription.pk, event_id=event_id
        )
    except DomainError as exc:
        form = WebhookForm(
            initial={
                "url": subscription.url,
                "event_types": ", ".join(subscription.event_types),
                "description": subscription.description,
            }
        )
        form.add_error(None, exc.message)
        return _page(request, subscription, form=form, status=409)
    redeliver_task.enqueue(subscription_id=subscription.pk, event_id=event.id)
    done(
        request,
        f"Queued event {event.id} ({event.type}) to be sent again; its attempt appears below.",
    )
    return redirect("web:webhook", subscription_id=subscription.pk)

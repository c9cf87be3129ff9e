"""The django-tasks tasks of webhooks (run by ``manage.py run_jobs``)."""

from __future__ import annotations

from django_tasks import task

from coursepack.integrations import webhooks


@task()
def deliver_webhooks_task() -> int:
    """Send every subscription's due events, in order; return how many were delivered."""
    return webhooks.deliver_due()


@task()
def redeliver_task(subscription_id: int, event_id: int) -> int:
    """Send one event to a subscription again; return the attempt's id."""
    return webhooks.send_again(subscription_id=subscription_id, event_id=event_id).pk

"""Reminder runs against a real SMTP server: each scheduled reminder goes out once and
never twice, the manager digest lists exactly the team's overdue people, a dry run
sends nothing, the rate limit holds and a failed send is recorded and retried.

Time moves by the ``now`` a run is given (the moment it acts as of), not by mocking.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from conftest import Mailbox
from django.utils import timezone

from coursepack.accounts import api as accounts
from coursepack.errors import InvalidInput
from coursepack.jobs import api as jobs
from coursepack.jobs.models import Job
from coursepack.learning import api as learning
from coursepack.notifications import api as notifications
from coursepack.notifications import selectors
from coursepack.notifications.errors import TemplateInvalid
from coursepack.notifications.models import Message
from coursepack.organisation.models import OrgUnit, Placement, UnitManager
from coursepack.packaging import api as packaging
from coursepack.packaging.models import PackageVersion
from tests.factories import make_admin, make_course, make_draft_package, make_learner

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def person(name: str, **extra: Any) -> Any:
    user = make_learner(username=name)
    user.email = f"{name}@example.org"
    user.first_name = name.capitalize()
    for key, value in extra.items():
        setattr(user, key, value)
    user.save()
    return user


def due_package(days: int = 30, name: str = "Fire Safety") -> PackageVersion:
    """Return the active version of a new package due ``days`` after enrolment."""
    draft = make_draft_package(items=[make_course()], name=name)
    packaging.set_version_lifecycle(
        actor=None, version_id=draft.pk, due_kind="after_enrolment", due_days=days
    )
    packaging.publish_version(actor=None, version_id=draft.pk, change_notes="Release.")
    draft.refresh_from_db()
    return draft


def run(now: datetime, admin: Any = None) -> notifications.RunResult:
    return notifications.run_reminders(actor=admin, now=now)


def only(kind: str, box: Mailbox, address: str) -> list[str]:
    return [m.subject for m in box.to(address) if kind in m.subject]


def test_a_due_soon_reminder_goes_out_once_at_each_offset_and_never_twice(
    mailbox: Mailbox,
) -> None:
    admin = make_admin()
    version = due_package(30)
    ada = person("ada")
    enrollment = learning.enroll(actor=admin, learner_id=ada.pk, package_id=version.package_id)
    enrollment.refresh_from_db()
    due = enrollment.due_in_force
    assert due is not None
    # Schedule: 30 / 14 / 1 days before, then weekly while overdue (the defaults).
    moments = [
        due - 29.5 * DAY,  # the 30-day reminder (and "assigned")
        due - 20 * DAY,  # nothing new
        due - 13.9 * DAY,  # the 14-day reminder
        due - 13 * DAY,  # nothing new
        due - 0.5 * DAY,  # the 1-day reminder
        due + 0.5 * DAY,  # overdue, on the day
        due + 3 * DAY,  # nothing new
        due + 7.5 * DAY,  # overdue, a week on
    ]
    for moment in moments:
        # Every moment is run three times: repeated runs send nothing more.
        for _ in range(3):
            run(moment, admin)
    sent = Message.objects.filter(enrollment=enrollment).order_by("pk")
    assert [(m.kind, m.offset_days, m.status) for m in sent] == [
        ("assigned", 0, "sent"),
        ("due_soon", 30, "sent"),
        ("due_soon", 14, "sent"),
        ("due_soon", 1, "sent"),
        ("overdue", 0, "sent"),
        ("overdue", 7, "sent"),
    ]
    received = mailbox.to("ada@example.org")
    assert [m.subject for m in received] == [
        "New training for you: Fire Safety",
        "Reminder: Fire Safety is due in 29 day(s)",
        "Reminder: Fire Safety is due in 13 day(s)",
        "Reminder: Fire Safety is due in 0 day(s)",
        "Overdue: Fire Safety",
        "Overdue: Fire Safety",
    ]
    assert f"due on {due:%Y-%m-%d}" in received[1].text()
    assert f"/enrollments/{enrollment.pk}/" in received[1].text()


def test_a_run_that_jumps_past_several_offsets_sends_only_the_latest(mailbox: Mailbox) -> None:
    admin = make_admin()
    version = due_package(30)
    ada = person("ada")
    enrollment = learning.enroll(actor=admin, learner_id=ada.pk, package_id=version.package_id)
    enrollment.refresh_from_db()
    assert enrollment.due_in_force is not None
    run(enrollment.due_in_force - 5 * DAY, admin)
    assert [(m.kind, m.offset_days) for m in Message.objects.filter(kind="due_soon")] == [
        ("due_soon", 14)
    ]


def test_completed_learners_get_no_due_soon_but_a_completion_message(mailbox: Mailbox) -> None:
    admin = make_admin()
    version = due_package(30)
    ada = person("ada")
    enrollment = learning.enroll(actor=admin, learner_id=ada.pk, package_id=version.package_id)
    (course_id,) = version.items.values_list("course_id", flat=True)
    learning.record_completion(actor=admin, learner_id=ada.pk, course_id=course_id)
    enrollment.refresh_from_db()
    assert enrollment.due_in_force is not None
    run(timezone.now() + DAY, admin)
    run(enrollment.due_in_force - 5 * DAY, admin)
    assert only("Reminder", mailbox, "ada@example.org") == []
    # Within the look-back of the completion, once.
    assert only("Completed", mailbox, "ada@example.org") == ["Completed: Fire Safety"]


def test_a_package_schedule_changes_the_offsets_and_can_switch_reminders_off(
    mailbox: Mailbox,
) -> None:
    admin = make_admin()
    custom = due_package(30, name="Custom")
    quiet = due_package(30, name="Quiet")
    ada = person("ada")
    notifications.set_schedule(
        actor=admin,
        package_id=custom.package_id,
        due_soon_days=[10],
        overdue_every_days=0,
        send_assigned=False,
    )
    notifications.set_schedule(actor=admin, package_id=quiet.package_id, enabled=False)
    a = learning.enroll(actor=admin, learner_id=ada.pk, package_id=custom.package_id)
    learning.enroll(actor=admin, learner_id=ada.pk, package_id=quiet.package_id)
    a.refresh_from_db()
    assert a.due_in_force is not None
    for moment in (a.due_in_force - 20 * DAY, a.due_in_force - 9 * DAY, a.due_in_force + 2 * DAY):
        run(moment, admin)
    assert [m.subject for m in mailbox.to("ada@example.org")] == [
        "Reminder: Custom is due in 9 day(s)"
    ]
    with pytest.raises(InvalidInput):
        notifications.set_schedule(actor=admin, package_id=custom.package_id, due_soon_days=[0])


def _org() -> dict[str, Any]:
    """Two teams under one division; Maria manages team A (as its unit manager) and is
    Pat's line manager (Pat works in team B)."""

    def unit(code: str, parent: OrgUnit | None) -> OrgUnit:
        u = OrgUnit.objects.create(code=code, name=code, parent=parent, path="")
        u.path = (parent.path if parent else "/") + f"{u.pk}/"
        u.save()
        return u

    division = unit("DIV", None)
    team_a, team_b = unit("A", division), unit("B", division)
    squad = unit("A1", team_a)
    maria = person("maria", first_name="Maria")
    people = {
        "maria": maria,
        "ann": person("ann", last_name="Anders"),  # team A, overdue
        "sam": person("sam", last_name="Squad"),  # below team A, overdue
        "alf": person("alf", last_name="Able"),  # team A, on time
        "pat": person("pat", last_name="Parker"),  # team B, Maria's report, overdue
        "bob": person("bob", last_name="Baker"),  # team B, overdue, not Maria's
    }
    accounts.set_role(actor=None, user_id=maria.pk, role="manager")
    UnitManager.objects.create(unit=team_a, user=maria)
    for name, where in (("maria", team_a), ("ann", team_a), ("sam", squad), ("alf", team_a)):
        Placement.objects.create(user=people[name], org_unit=where)
    Placement.objects.create(user=people["pat"], org_unit=team_b, manager=maria)
    Placement.objects.create(user=people["bob"], org_unit=team_b)
    return people


def test_the_manager_digest_lists_exactly_the_teams_overdue_people(mailbox: Mailbox) -> None:
    admin = make_admin()
    people = _org()
    late, later = due_package(10, name="Late"), due_package(60, name="Later")
    for name in ("maria", "ann", "sam", "pat", "bob"):
        learning.enroll(actor=admin, learner_id=people[name].pk, package_id=late.package_id)
    learning.enroll(actor=admin, learner_id=people["alf"].pk, package_id=later.package_id)
    moment = timezone.now() + 20 * DAY
    plan = selectors.plan(moment)
    assert plan.by_kind["manager_digest"] == 1
    run(moment, admin)
    (digest,) = mailbox.to("maria@example.org")[-1:]
    assert digest.subject == "Your team: 3 overdue"
    body = digest.text()
    listed = {
        name
        for name in ("ann", "sam", "alf", "pat", "bob", "maria")
        if f"{people[name].get_full_name()} —" in body
    }
    assert listed == {"ann", "sam", "pat"}
    # One digest per period, whatever runs.
    run(moment + DAY, admin)
    assert (
        len([m for m in mailbox.to("maria@example.org") if m.subject.startswith("Your team")]) == 1
    )
    # The next period has its own.
    run(moment + 8 * DAY, admin)
    assert (
        len([m for m in mailbox.to("maria@example.org") if m.subject.startswith("Your team")]) == 2
    )
    # Nobody else manages anyone: no other digest.
    assert (
        Message.objects.filter(kind="manager_digest").exclude(recipient=people["maria"]).count()
        == 0
    )


def test_without_the_manager_role_a_unit_manager_gets_only_their_direct_reports(
    mailbox: Mailbox,
) -> None:
    admin = make_admin()
    people = _org()
    accounts.set_role(actor=None, user_id=people["maria"].pk, role="learner")
    late = due_package(10, name="Late")
    for name in ("ann", "sam", "pat", "bob"):
        learning.enroll(actor=admin, learner_id=people[name].pk, package_id=late.package_id)
    run(timezone.now() + 20 * DAY, admin)
    (digest,) = [m for m in mailbox.to("maria@example.org") if m.subject.startswith("Your team")]
    assert digest.subject == "Your team: 1 overdue"
    assert "Pat Parker —" in digest.text() and "Ann Anders" not in digest.text()


def test_a_dry_run_says_what_it_would_send_and_sends_nothing(mailbox: Mailbox) -> None:
    admin = make_admin()
    version = due_package(30)
    for name in ("ada", "bea", "cy"):
        learning.enroll(actor=admin, learner_id=person(name).pk, package_id=version.package_id)
    job = jobs.start_reminder_run(actor=admin, dry_run=True, as_of=timezone.now() + 20 * DAY)
    # The worker's task runs exactly this (tests/jobs runs the worker itself).
    job = jobs.run_job(job.pk)
    assert job.status == "succeeded", job.error
    assert job.result["by_kind"]["due_soon"] == 3
    assert job.result["by_kind"]["assigned"] == 0  # enrolled 20 days before: outside the look-back
    assert job.result["summary"] == "3 messages to 3 people"
    assert mailbox.messages == []
    assert Message.objects.count() == 0
    # The real run then sends what the dry run said.
    result = run(timezone.now() + 20 * DAY, admin)
    assert (result.claimed["due_soon"], result.sent) == (3, 3)
    assert len(mailbox.messages) == 3


def test_a_real_run_may_not_pretend_to_be_another_day() -> None:
    with pytest.raises(InvalidInput):
        jobs.start_reminder_run(actor=None, as_of=timezone.now() + DAY)


def test_the_rate_limit_spaces_sends_and_the_per_run_limit_leaves_the_rest(
    mailbox: Mailbox, settings: Any
) -> None:
    admin = make_admin()
    version = due_package(30)
    for name in ("ada", "bea", "cy", "dee", "eve"):
        learning.enroll(actor=admin, learner_id=person(name).pk, package_id=version.package_id)
    settings.NOTIFICATIONS_RATE_PER_MINUTE = 600  # one every 0.1 s
    settings.NOTIFICATIONS_MAX_PER_RUN = 3
    first = run(timezone.now() + DAY, admin)
    assert (first.claimed["assigned"], first.claimed["due_soon"]) == (5, 5)
    assert (first.sent, first.left) == (3, 7)
    times = [m.at for m in mailbox.messages]
    # Sends start 0.1 s apart; what the server sees also varies with the delivery time
    # of each (a few ms here), so the span is held to the limit less that jitter.
    assert times[-1] - times[0] >= 2 * 0.1 - 0.03, times
    run(timezone.now() + DAY, admin)
    run(timezone.now() + DAY, admin)
    last = run(timezone.now() + DAY, admin)
    assert last.left == 0
    assert len(mailbox.messages) == 10
    assert Message.objects.filter(status="sent").count() == 10


def test_a_failed_send_is_recorded_and_retried_by_a_later_run(
    mailbox: Mailbox, settings: Any, closed_port: int
) -> None:
    admin = make_admin()
    version = due_package(30)
    ada = person("ada")
    learning.enroll(actor=admin, learner_id=ada.pk, package_id=version.package_id)
    moment = timezone.now() + DAY
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = closed_port
    result = run(moment, admin)
    assert (result.sent, result.failed) == (0, 2)
    failed = list(Message.objects.order_by("pk"))
    assert [m.status for m in failed] == ["failed", "failed"]
    assert all("Connection refused" in m.error or "Errno" in m.error for m in failed)
    assert all(m.to_address == "ada@example.org" and m.subject for m in failed)
    # The server answers, but refuses the message: recorded as a failure too.
    settings.EMAIL_PORT = good_port
    mailbox.refuse = True
    run(moment, admin)
    assert {m.error.split(":")[0] for m in Message.objects.all()} == {"SMTPDataError"}
    mailbox.refuse = False
    retried = run(moment, admin)
    assert (retried.claimed["due_soon"], retried.sent) == (0, 2)
    assert [(m.status, m.attempts) for m in Message.objects.order_by("pk")] == [
        ("sent", 3),
        ("sent", 3),
    ]
    assert len(mailbox.to("ada@example.org")) == 2


def test_a_message_no_longer_true_when_its_turn_comes_is_skipped(
    mailbox: Mailbox, settings: Any
) -> None:
    admin = make_admin()
    version = due_package(30)
    ada = person("ada")
    enrollment = learning.enroll(actor=admin, learner_id=ada.pk, package_id=version.package_id)
    settings.NOTIFICATIONS_MAX_PER_RUN = 0
    notifications.claim_due(actor=admin, now=timezone.now() + 20 * DAY)
    learning.withdraw(actor=admin, enrollment_id=enrollment.pk)
    settings.NOTIFICATIONS_MAX_PER_RUN = 10
    result = notifications.send_claimed(now=timezone.now() + 20 * DAY)
    assert (result.sent, result.skipped) == (0, 1)
    assert Message.objects.get().error == "the enrollment was withdrawn"
    assert mailbox.messages == []


def test_templates_name_only_their_placeholders_and_preview_with_sample_values() -> None:
    admin = make_admin()
    with pytest.raises(TemplateInvalid) as refused:
        notifications.set_template(
            actor=admin,
            kind="due_soon",
            subject="Hi ${user.password}",
            body_text="$first_name, see {{ settings.SECRET_KEY }} $people",
        )
    assert any("$people is not a placeholder" in p for p in refused.value.problems)
    assert any("subject" in p for p in refused.value.problems)
    preview = notifications.preview_template(
        kind="due_soon",
        subject="Due: $package",
        body_text="Hi $first_name",
        body_html="<p>Hi $first_name &amp; $package</p>",
    )
    assert preview.subject == "Due: 2026 Cybersecurity Training"
    assert preview.body_text == "Hi Ada"
    notifications.set_template(
        actor=admin,
        kind="due_soon",
        subject="Due: $package",
        body_text="Hi $first_name",
        body_html="<p>Hi $first_name</p>",
    )
    text, row = selectors.template_of("due_soon")
    assert row is not None and text.subject == "Due: $package"


def test_an_edited_template_is_what_is_sent_with_values_escaped_in_html(mailbox: Mailbox) -> None:
    admin = make_admin()
    version = due_package(30, name="Tools & <Safety>")
    ada = person("ada")
    learning.enroll(actor=admin, learner_id=ada.pk, package_id=version.package_id)
    notifications.set_template(
        actor=admin,
        kind="due_soon",
        subject="Due soon: $package",
        body_text="Hi $first_name, $package is due $due_date.",
        body_html="<p>Hi $first_name, <b>$package</b> is due $due_date.</p>",
    )
    run(timezone.now() + 20 * DAY, admin)
    (message,) = [m for m in mailbox.to("ada@example.org") if m.subject.startswith("Due soon")]
    assert message.subject == "Due soon: Tools & <Safety>"
    html = [p for p in message.message.walk() if p.get_content_type() == "text/html"]
    payload = html[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "<b>Tools &amp; &lt;Safety&gt;</b>" in payload.decode()


def test_the_periodic_task_queues_one_run_at_a_time() -> None:
    from coursepack.jobs.tasks import reminders_task

    first = reminders_task.call()
    again = reminders_task.call()
    assert first is not None and again is None
    assert Job.objects.filter(kind="reminders").count() == 1

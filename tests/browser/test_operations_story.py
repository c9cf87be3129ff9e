"""The operations story in Chromium, on the demo data: a training admin enrols 47
learners from a CSV file (the dry run shows the one bad row; nothing is written until
confirmed), a newcomer enrolled after v2 is published gets v2 while the 47 stay on v1,
two completions are recorded and one voided with a reason; the admin creates an
auditor with a set-password link, the auditor sets a password, signs in and reads
the reports; the admin revokes the auditor's token and deactivates them; a learner on
a phone sees "My training" with what to do next; every step is in the audit log, with
names. Every page is checked with axe-core and for overflow at 390 px.

Setup through the services (not the story): the demo data, the people to enrol, the
Safety package's v1 and v2 (publishing is the authoring UI's story), and the
auditor's API token (issued over the API in real life).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from browser_checks import (
    click_main_nav,
    page_overflows_viewport,
    serious_accessibility_violations,
)
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from coursepack.accounts import api as accounts
from coursepack.audit.models import AuditEvent
from coursepack.learning.models import CompletionEvent, Enrollment
from coursepack.packaging import api as packaging
from coursepack.packaging.models import Package, PackageVersion

SAFETY = "Q1 2024 Safety Training"
# The viewports every page is judged at (as in tests/browser/conftest.py).
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}


def _checked(page: Page, *, phone: bool = False) -> None:
    """Assert the page has no serious accessibility problem and fits its width."""
    assert serious_accessibility_violations(page) == []
    if phone:
        assert page_overflows_viewport(page) == 0


def _sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form.login button[type=submit]")


def test_the_operations_story(
    live_server: Any, browser: Browser, shoot: Any, tmp_path: Path
) -> None:
    base = live_server.url
    call_command("load_demo", verbosity=0)
    admin_user = User.objects.get(username="admin")
    safety = Package.objects.get(name=SAFETY)
    v1 = PackageVersion.objects.get(package=safety, status="draft")
    packaging.publish_version(actor=admin_user, version_id=v1.pk, change_notes="First run.")
    people = [
        accounts.create_user(
            actor=admin_user, username=f"worker{n:02d}", first_name="Worker", last_name=f"{n:02d}"
        )
        for n in range(1, 49)
    ]
    newcomer = people.pop()
    csv_file = tmp_path / "q1-safety.csv"
    csv_file.write_text(
        "username,department\n"
        + "".join(f"{p.username},Warehouse\n" for p in people[:20])
        + "nobody-here,Warehouse\n"
        + "".join(f"{p.username},Warehouse\n" for p in people[20:])
    )

    admin = browser.new_page(viewport=LAPTOP)
    _sign_in(admin, base, "admin", "coursepack-admin")
    expect(admin).to_have_url(f"{base}/")

    # --- 47 learners from a CSV file, through a dry run ---------------------------
    click_main_nav(admin, "Enrol")
    expect(admin.locator("h1")).to_have_text("Enrol learners")
    admin.select_option("#id_package", label=f"{SAFETY} (v1)")
    admin.set_input_files("#id_csv_file", str(csv_file))
    _checked(admin)
    shoot(admin, "ops-enrol", docs=True)
    admin.click("text=Check who would be enrolled")

    expect(admin.locator("h1")).to_have_text("Check the enrolment")
    problem = admin.locator("tr.problem")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("CSV line 22")
    expect(problem).to_contain_text("Nobody has the username “nobody-here”.")
    expect(admin.locator("table.preview-ok tbody tr")).to_have_count(47)
    assert Enrollment.objects.filter(package=safety).count() == 0
    _checked(admin)
    shoot(admin, "ops-enrol-preview", docs=True)
    admin.click("text=Enrol 47 learners")

    expect(admin.locator(".banner")).to_have_text(f"Enrolled 47 learners in {SAFETY} v1.")
    expect(admin.locator("h1")).to_have_text(f"Enrollments in {SAFETY} v1")
    assert Enrollment.objects.filter(package=safety, version=v1).count() == 47
    _checked(admin)
    shoot(admin, "ops-version-enrollments", docs=True)

    # --- v2 is published; a newcomer, searched and ticked, gets v2 -----------------
    v2 = packaging.create_draft_from(actor=admin_user, version_id=v1.pk)
    packaging.publish_version(actor=admin_user, version_id=v2.pk, change_notes="Second run.")
    click_main_nav(admin, "Enrol")
    admin.select_option("#id_package", label=f"{SAFETY} (v2)")
    # Typing is enough: htmx swaps the matching learners in (no page load).
    admin.locator("#learner-q").press_sequentially(newcomer.username, delay=20)
    admin.get_by_label(re.compile(newcomer.username)).check()
    expect(admin.locator("#learner-q")).to_have_value(newcomer.username)
    admin.click("text=Check who would be enrolled")
    admin.click("text=Enrol 1 learner")
    expect(admin.locator(".banner")).to_have_text(f"Enrolled 1 learner in {SAFETY} v2.")
    assert Enrollment.objects.get(learner=newcomer, package=safety).version_id == v2.pk
    assert Enrollment.objects.filter(package=safety, version=v1).count() == 47

    # --- completions for two learners, one voided with a reason --------------------
    recorded = []
    yesterday = timezone.localtime(timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    for person in people[:2]:
        admin.goto(f"{base}/versions/{v1.pk}/enrollments/")
        admin.locator("tr", has_text=person.username).get_by_role("link").click()
        expect(admin.locator("h1")).to_have_text(f"Worker {person.last_name} in {SAFETY}")
        admin.select_option("#id_course", label="SAF-300 Workplace Safety Basics")
        admin.fill("#id_occurred_at", yesterday)
        admin.select_option("#id_source", "manual")
        admin.fill("#id_evidence_note", f"Sign-in sheet, toolbox talk, {person.username}")
        admin.click("text=Record for")
        expect(admin.locator(".banner")).to_contain_text("Recorded SAF-300")
        expect(admin.locator("tr.event")).to_have_count(1)
        recorded.append(admin.url)
    _checked(admin)
    shoot(admin, "ops-progress", docs=True)
    admin.get_by_role("link", name=re.compile("^Void")).click()
    expect(admin.locator("h1")).to_contain_text("SAF-300 event?")
    admin.fill("#id_reason", "Signed the sheet but left before the talk.")
    _checked(admin)
    shoot(admin, "ops-void", docs=True)
    admin.click("text=Void this event")
    expect(admin.locator(".banner")).to_contain_text("Voided")
    expect(admin.locator("tr.event .standing.voided").first).to_have_text("Voided")
    assert CompletionEvent.objects.filter(kind="void").count() == 2  # the demo's and ours

    # --- an auditor with a set-password link ---------------------------------------
    click_main_nav(admin, "People")
    expect(admin.locator("h1")).to_have_text("People")
    _checked(admin)
    shoot(admin, "ops-people", docs=True)
    admin.click("text=Add a person")
    admin.fill("#id_username", "riley")
    admin.fill("#id_first_name", "Riley")
    admin.fill("#id_last_name", "Auditor")
    admin.select_option("#id_role", "auditor")
    _checked(admin)
    shoot(admin, "ops-person-new", docs=True)
    admin.click("text=Add this person")
    expect(admin.locator(".banner").first).to_have_text("Created riley as auditor.")
    link = admin.locator("#password-link").input_value()
    assert "/set-password/" in link
    shoot(admin, "ops-person-created", docs=True)
    riley = User.objects.get(username="riley")
    token = accounts.issue_token(actor=riley, name="Quarterly export")

    auditor = browser.new_page(viewport=LAPTOP)
    auditor.goto(link)
    expect(auditor.locator("h1")).to_have_text("Set your password")
    _checked(auditor)
    shoot(auditor, "ops-set-password", docs=True)
    auditor.fill("#id_password", "riley-reads-reports")
    auditor.fill("#id_confirm", "riley-reads-reports")
    auditor.click("text=Set my password")
    expect(auditor).to_have_url(re.compile(r"/login/$"))
    expect(auditor.locator(".banner")).to_have_text("Your password is set. Sign in with it now.")
    _sign_in(auditor, base, "riley", "riley-reads-reports")
    click_main_nav(auditor, "Reports")
    expect(auditor.locator("h1")).to_have_text("Reports")
    expect(auditor.locator("header nav.nav-wide")).not_to_contain_text("People")

    # --- the admin revokes the auditor's token and deactivates them -----------------
    admin.reload()
    admin.click(f"text=Revoke “{token.token.name}”")
    expect(admin.locator(".banner")).to_contain_text("Revoked riley's token")
    admin.fill("#id_notes", "Audit finished.")
    admin.click("text=Deactivate riley")
    expect(admin.locator(".banner")).to_contain_text("Deactivated riley")
    _checked(admin)
    shoot(admin, "ops-person", docs=True)
    assert accounts.authenticate_token(token.secret) is None
    auditor.reload()
    expect(auditor).to_have_url(re.compile(r"/login/"))

    # --- a learner on a phone: My training says what to do next ---------------------
    phone = browser.new_page(viewport=PHONE)
    _sign_in(phone, base, "carol", "coursepack-learner")
    expect(phone).to_have_url(f"{base}/my-training/")
    card = phone.locator("li.training-card", has_text="2024 Cybersecurity Training")
    expect(card.locator(".next-steps")).to_contain_text("What to do next")
    expect(card.locator(".next-steps li").first).to_contain_text("Complete 1 of")
    _checked(phone, phone=True)
    shoot(phone, "my-training-phone", docs=True)
    phone.close()
    alice_phone = browser.new_page(viewport=PHONE)
    _sign_in(alice_phone, base, "alice", "coursepack-learner")
    expect(alice_phone.locator("li.training-card")).to_have_count(2)
    _checked(alice_phone, phone=True)
    # On a phone the links sit behind the top bar's Menu.
    alice_phone.click("header .nav-menu > summary")
    alice_phone.click("header .nav-menu nav >> text=My transcript")
    expect(alice_phone.locator("h1")).to_contain_text("Alice Nguyen")
    _checked(alice_phone, phone=True)
    shoot(alice_phone, "transcript-phone", docs=True)

    # --- every step on the audit log, with names ------------------------------------
    click_main_nav(admin, "Audit log")
    log = admin.locator("table.audit-log")
    for action, words in [
        ("enrollment.bulk_created", f"{SAFETY}"),
        ("completion.recorded", "Worker 01 (worker01)"),
        ("completion.voided", "Signed the sheet but left before the talk."),
        ("account.created", "Riley Auditor (riley)"),
        ("account.password_set", "Riley Auditor (riley)"),
        ("token.revoked", "owner: riley"),
        ("account.deactivated", "Audit finished."),
    ]:
        expect(log.locator("tr", has_text=action).filter(has_text=words).first).to_be_visible()
    expect(log.locator("tr", has_text="account.deactivated").first).to_contain_text(
        "Jordan Admin (admin)"
    )
    _checked(admin)
    shoot(admin, "ops-audit-log", docs=True)
    admin.set_viewport_size(PHONE)
    admin.reload()
    _checked(admin, phone=True)
    shoot(admin, "audit-log-phone", docs=True)
    for url in (
        f"{base}/",
        f"{base}/learners/",
        f"{base}/reports/",
        f"{base}/packages/{safety.pk}/",
        f"{base}/people/",
        f"{base}/enrol/",
        f"{base}/versions/{v1.pk}/enrollments/",
        recorded[0],
    ):
        admin.goto(url)
        _checked(admin, phone=True)
    shoot(admin, "progress-phone", docs=True)
    admin.set_viewport_size(LAPTOP)
    admin.click("text=Withdraw from")
    expect(admin.locator("h1")).to_contain_text("Withdraw Worker 01")
    _checked(admin)
    shoot(admin, "ops-withdraw", docs=True)
    assert AuditEvent.objects.filter(action="enrollment.bulk_created").count() == 2

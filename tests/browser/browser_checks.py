"""Checks every page test can make: accessibility (axe-core) and phone-width overflow.

Import by bare name (tests/browser is on sys.path)::

    from browser_checks import page_overflows_viewport, serious_accessibility_violations
"""

from __future__ import annotations

from playwright.sync_api import Page


def serious_accessibility_violations(page: Page) -> list[str]:
    """Return axe-core's serious and critical violations on the page, one line each.

    Assert the result is empty: ``assert serious_accessibility_violations(page) == []``.
    """
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") not in ("serious", "critical"):
            continue
        targets = [", ".join(node.get("target", [])) for node in violation.get("nodes", [])]
        found.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets[:5]}"
        )
    return found


def page_overflows_viewport(page: Page) -> int:
    """Return by how many CSS pixels the page is wider than its viewport (0 = fits)."""
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return max(0, int(overflow))


def click_main_nav(page: Page, name: str) -> None:
    """Follow the main navigation's link ``name`` as a person does on a wide screen:
    open its section's menu first when it is in one."""
    nav = page.locator("header nav.nav-wide")
    # By text, not role: a link inside a closed section is not in the accessibility tree.
    section = nav.locator("details.nav-group", has=page.locator(f'a:text-is("{name}")'))
    if section.count() and not section.evaluate("details => details.open"):
        section.locator("summary").click()
    nav.get_by_role("link", name=name, exact=True).click()

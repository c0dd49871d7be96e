"""HR in the browser: a joiner (with a mistake first), the first supervisor, a transfer and a leaver; nobody
else may open the staff pages."""

import uuid

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


def test_a_joiner_is_allocated_transferred_and_leaves(browser, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    page = ctx.new_page()
    name = f"Zoe Joiner {uuid.uuid4().hex[:4].upper()}"
    try:
        sign_in(page, site, "hr")
        page.get_by_role("link", name="Staff").click()
        assert "Amira Hussain" in html(page)
        check(page, "staff", shots)
        page.get_by_role("button", name="Add a joiner").click()
        page.get_by_label("Job title").fill("Social Worker")
        page.get_by_role("button", name="Add the joiner").click()
        summary = page.locator(".govuk-error-summary")
        assert summary.get_by_role("link").first.get_attribute("href") == "#name"
        check(page, "add a joiner with errors", shots)
        page.get_by_label("Full name").fill(name)
        page.get_by_label("Start date").fill("2026-12-01")
        page.get_by_role("button", name="Add the joiner").click()
        assert f"{name} has joined" in html(page)

        page.get_by_label("Supervisor").select_option(label="Daniel Okafor")
        page.get_by_role("button", name="Allocate").click()
        assert "Supervisor allocated" in html(page)
        check(page, "a member of staff", shots)
        page.get_by_label("New supervisor").select_option(label="Helen Marsh")
        page.get_by_label("Reason").fill("caseload rebalancing")
        page.get_by_role("button", name="Transfer").click()
        assert "previous supervisor can no longer read" in html(page)
        summary_list = page.locator(".govuk-summary-list").inner_text()
        assert "Helen Marsh" in summary_list
        page.get_by_label("Leaving date").fill("2026-12-31")
        page.get_by_role("button", name="Record leaving").click()
        assert "Leaving date recorded" in html(page) and "left 31 December 2026" in html(page)
        sign_out(page)

        sign_in(page, site, "daniel")
        response = page.goto(site.url("/people"))
        assert response is not None and response.status == 403
    finally:
        ctx.close()

"""HR's changes in a person's working life, in the browser: a joiner (an NQSW) gets bcp's second supervisor, the
ASYE assessor/mentor, who then finds them among "my supervisees" and books and holds a session with them; HR
records their standing (a mistake first), a change of role (a mistake first), a return after a career break, and
ends the second supervision. On the allocation page a manager whose job title is not the one bcp names is refused
the exception, in the page's error summary. Each new page: axe-core 0 violations, and no sideways scroll at 320 px."""

import uuid
from datetime import date, timedelta

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


def fill_date(page, prefix: str, day: date) -> None:  # noqa: ANN001
    page.fill(f"#{prefix}-day", str(day.day))
    page.fill(f"#{prefix}-month", str(day.month))
    page.fill(f"#{prefix}-year", str(day.year))


def reflows(page) -> bool:  # noqa: ANN001
    """At 320 px wide the page never scrolls sideways (WCAG 1.4.10)."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 900})
    fits = page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size(size)
    return fits


def error_links(page) -> list[str]:  # noqa: ANN001
    return [a.get_attribute("href") for a in page.locator(".govuk-error-summary a").all()]


def test_hr_records_each_change_and_the_second_supervisor_books_a_session(browser, site: Site,  # noqa: ANN001
                                                                          screenshots) -> None:
    shots = screenshots if site.backend == "sqlite" else None
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    page = ctx.new_page()
    name = f"Nell Newly {uuid.uuid4().hex[:4].upper()}"
    today = date.today()
    try:
        sign_in(page, site, "hr")
        page.goto(site.url("/people/new"))
        page.get_by_label("Full name").fill(name)
        page.get_by_label("Job title").fill("Social Worker (ASYE)")
        page.get_by_label("Category").select_option("nqsw_asye")
        page.get_by_label("Start date").fill((today - timedelta(days=14)).isoformat())
        page.get_by_role("button", name="Add the joiner").click()
        assert f"{name} has joined" in html(page)
        page.get_by_label("Supervisor").select_option(label="Tom Reeves")
        page.get_by_role("button", name="Allocate").click()
        assert "Supervisor allocated" in html(page)
        person = page.url

        # bcp's second supervisor, as the pack names it
        page.get_by_role("link", name="Allocate a second supervisor (ASYE assessor/mentor)").click()
        assert "ASYE assessor/mentor, for nqsw asye workers" in html(page)
        page.get_by_role("button", name="Allocate the ASYE assessor/mentor").click()
        assert error_links(page) == ["#supervisor_id"]
        check(page, "allocate a second supervisor with errors", shots)
        assert reflows(page)
        page.get_by_label("ASYE assessor/mentor").select_option(label="Helen Marsh")
        page.get_by_role("button", name="Allocate the ASYE assessor/mentor").click()
        assert "Second supervisor allocated" in html(page)
        assert "Helen Marsh" in page.locator(".govuk-summary-list").inner_text()
        check(page, "a member of staff with a second supervisor", shots)
        sign_out(page)

        # The second supervisor sees them among "my supervisees", books a session and records it as held.
        sign_in(page, site, "helen")
        page.goto(site.url("/supervisees"))
        assert name in html(page)
        page.get_by_role("link", name=f"Book a session with {name}").click()
        fill_date(page, "starts", today)
        page.get_by_label("Start time").fill("00:30")
        page.get_by_role("button", name="Book the session").click()
        assert "You booked the session" in html(page)
        fill_date(page, "held_on", today)
        page.get_by_label("How long it lasted").fill("90")
        page.get_by_role("button", name="Record as held").click()
        assert "You recorded the session as held" in html(page)
        sign_out(page)

        sign_in(page, site, "hr")
        page.goto(person)
        # Standing: a level that is not a number is named in the summary.
        page.get_by_role("link", name="Record level, registration and supervisor experience").click()
        page.get_by_label("Level in the line management structure").fill("one")
        page.get_by_role("button", name="Record the standing").click()
        assert error_links(page) == ["#level"]
        check(page, "record standing with errors", shots)
        assert reflows(page)
        page.get_by_label("Level in the line management structure").fill("1")
        page.locator("#registered").check()
        page.get_by_role("button", name="Record the standing").click()
        assert "Standing recorded" in html(page)
        summary = page.locator(".govuk-summary-list").inner_text()
        assert "Level\n1" in summary.replace("\t", "\n") and "Held" in summary

        # A change of role: the day it begins left out, then a major change (bcp's role-changer regime).
        page.get_by_role("link", name="Record a change of role or category").click()
        page.get_by_label("New job title").fill("Social Worker, Fostering (ASYE)")
        page.get_by_role("button", name="Record the change of role").click()
        assert error_links(page) == ["#effective-day", "#major_change", "#reason"]
        check(page, "change of role with errors", shots)
        assert reflows(page)
        fill_date(page, "effective", today)
        page.get_by_label("No", exact=True).check()
        page.get_by_label("New category").select_option("experienced")
        page.get_by_label("Why").fill("ASYE completed early: moved to the fostering team")
        page.get_by_role("button", name="Record the change of role").click()
        assert "Change of role recorded" in html(page)
        assert "experienced" in page.locator(".govuk-summary-list").inner_text()

        # A return after a career break: the returner regime starts on the day back.
        page.get_by_role("link", name="Record a return after a career break or long absence").click()
        page.get_by_role("button", name="Record the return").click()
        assert error_links(page) == ["#absence", "#returned-day"]
        check(page, "record a return with errors", shots)
        assert reflows(page)
        page.get_by_label("A career break").check()
        fill_date(page, "returned", today)
        page.get_by_role("button", name="Record the return").click()
        assert "Return recorded" in html(page)
        assert "returner" in page.locator(".govuk-summary-list").inner_text()

        # The second supervision ends.
        page.get_by_role("link", name="End the second supervision by Helen Marsh").click()
        page.get_by_role("button", name="End the second supervision").click()
        assert error_links(page) == ["#reason"]
        check(page, "end a second supervision with errors", shots)
        assert reflows(page)
        page.get_by_label("Why it ends").fill("No longer an NQSW")
        page.get_by_role("button", name="End the second supervision").click()
        assert "Second supervision ended" in html(page)
        assert page.get_by_role("link", name="Allocate a second supervisor (ASYE assessor/mentor)").count() == 1

        response = page.goto(f"{person}/change/nothing")
        assert response is not None and response.status == 404
        sign_out(page)

        sign_in(page, site, "daniel")  # a supervisor: not HR's pages
        response = page.goto(f"{person}/change/role")
        assert response is not None and response.status == 403
    finally:
        ctx.close()


def test_the_allocation_page_refuses_an_exception_by_a_role_the_pack_does_not_name(browser, site: Site,  # noqa: ANN001
                                                                                 screenshots) -> None:
    shots = screenshots if site.backend == "sqlite" else None
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    page = ctx.new_page()
    try:
        sign_in(page, site, "priya")  # a manager, and Head of Service: bcp names the Service Manager
        page.get_by_role("link", name="Allocation").click()
        text = html(page)
        assert "agreed by the <strong>service manager</strong>" in text
        assert "Chloe Evans, supervised by Daniel Okafor" in text
        assert "the supervisor is at level 3, the supervisee at level 3" in text
        check(page, "allocation", shots)
        assert reflows(page)

        breach = page.locator(".app-breach", has_text="Chloe Evans, supervised by Daniel Okafor")
        breach.get_by_role("button", name="Record the exception").click()
        page.wait_for_load_state("load")  # count() does not wait for the new page to be parsed
        assert page.locator(".govuk-error-summary").count() == 1  # no reason: named before the command is asked
        breach = page.locator(".app-breach", has_text="Chloe Evans, supervised by Daniel Okafor")
        breach.get_by_label("Why the service manager agrees this departure").fill("Chloe covers the rota only")
        breach.get_by_role("button", name="Record the exception").click()
        summary = page.locator(".govuk-error-summary").inner_text()
        assert "agreed by the service manager" in summary and "'Head of Service'" in summary
        href = page.locator(".govuk-error-summary a").first.get_attribute("href")
        assert href and page.locator(href).input_value() == "Chloe covers the rota only"
        check(page, "allocation exception refused", shots)
        sign_out(page)

        sign_in(page, site, "hr")  # HR sees the page; agreeing a departure is a manager's step
        page.get_by_role("link", name="Allocation").click()
        assert "Chloe Evans, supervised by Daniel Okafor" in html(page)
        sign_out(page)

        sign_in(page, site, "grace")  # a supervisee: not theirs
        response = page.goto(site.url("/allocation"))
        assert response is not None and response.status == 403
    finally:
        ctx.close()


def test_the_service_manager_agrees_the_departure_and_it_shows_as_agreed(browser, site: Site,  # noqa: ANN001
                                                                      screenshots) -> None:
    """After the refusal above (this module's order): bcp's Service Manager, a demo user `svl demo` prints a token
    for and the sign-in page offers, records the exception; the departure leaves the list and shows as agreed."""
    shots = screenshots if site.backend == "sqlite" else None
    reason = "Chloe covers the duty rota only until the team's new manager starts"
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    page = ctx.new_page()
    try:
        assert site.tokens.get("sunita", "").startswith("svl_")  # `svl demo` printed her token
        page.goto(site.url("/sign-in"))
        assert page.locator('button[data-username="sunita"]').inner_text().startswith("Sunita Rao")
        sign_in(page, site, "sunita")
        assert "Signed in as <strong>Sunita Rao</strong> (manager)" in html(page)
        page.get_by_role("link", name="Allocation").click()
        breach = page.locator(".app-breach", has_text="Chloe Evans, supervised by Daniel Okafor")
        breach.get_by_label("Why the service manager agrees this departure").fill(reason)
        breach.get_by_role("button", name="Record the exception").click()
        page.wait_for_url(site.url("/allocation"))
        assert "Exception recorded in the worker&#39;s file." in html(page) or \
            "Exception recorded in the worker's file." in html(page)
        assert page.locator(".app-breach", has_text="Chloe Evans, supervised by Daniel Okafor").count() == 0
        agreed = page.locator(".app-agreed", has_text="Chloe Evans, supervised by Daniel Okafor")
        assert agreed.count() == 1
        text = agreed.inner_text()
        assert reason in text and "Supervisor's level" in text and "Sunita Rao" in text
        check(page, "allocation exception agreed", shots)
        assert reflows(page)
        sign_out(page)

        sign_in(page, site, "hr")  # HR sees the same: it is in Chloe's file
        page.get_by_role("link", name="Allocation").click()
        page.wait_for_load_state("load")  # count() does not wait for the new page to be parsed
        assert page.locator(".app-agreed", has_text="Chloe Evans, supervised by Daniel Okafor").count() == 1
    finally:
        ctx.close()

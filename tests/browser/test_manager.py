"""The manager's morning view in the browser: who is overdue and why, filtered to a supervisor's team and to
those who need attention, and the monthly frequency report; a supervisee is refused both."""

from datetime import date

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


def test_the_morning_view_and_the_frequency_report(browser, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    page = ctx.new_page()
    try:
        sign_in(page, site, "priya")
        page.get_by_role("link", name="Supervision due").click()
        page.wait_for_load_state("load")  # count() does not wait for the new page to be parsed
        everyone = page.locator("table tbody tr").count()
        assert everyone >= 3  # Priya supervises the three supervisors
        check(page, "supervision due (manager)", shots)

        page.get_by_label("Team").select_option(label="Daniel Okafor's team")
        page.get_by_role("button", name="Show").click()
        names = page.locator("table tbody tr td:first-child").all_inner_texts()
        assert any("Amira Hussain" in n for n in names) and not any("Daniel Okafor" in n for n in names)
        page.get_by_label("Only those who need attention").check()
        page.get_by_role("button", name="Show").click()
        page.wait_for_load_state("load")  # count() does not wait for the new page to be parsed
        assert page.locator("table tbody tr").count() <= len(names)

        page.get_by_role("link", name="The monthly frequency report").click()
        month = date.today().strftime("%Y-%m")
        assert page.get_by_label("Month").input_value() == month
        assert "met the minimum supervision frequency" in html(page)
        check(page, "frequency report", shots)
        page.get_by_label("Month").fill("October")
        page.get_by_role("button", name="Show").click()
        assert "is not a month" in page.locator(".govuk-error-summary").inner_text()
        sign_out(page)

        sign_in(page, site, "amira")
        response = page.goto(site.url("/due"))
        assert response is not None and response.status == 403
    finally:
        ctx.close()

"""An employee review recorded on a worker's practice page, in a pack that names reviews (bury: "Every worker will
have an employee review annually ... carried out by the immediate line manager", and a review six months after
it): the line manager signs in with an access token, records the review, and the page then shows it, with the
six-monthly review now falling due; the worker sees it on their own page, read only. On SQLite with JavaScript on
(axe-core, screenshots at 320 and 1280 px); on PostgreSQL with it off."""

from datetime import date

import pytest
from dateutil.relativedelta import relativedelta

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_out
from tests.support.bury_staff import LINE_MANAGER, WORKER


@pytest.fixture
def context(browser, bury_site: Site):  # noqa: ANN001, ANN201
    ctx = browser.new_context(viewport={"width": 1280, "height": 900},
                              java_script_enabled=bury_site.backend == "sqlite")
    yield ctx
    ctx.close()


def sign_in_with_token(page, site: Site, username: str) -> None:  # noqa: ANN001
    page.goto(site.url("/sign-in"))
    page.get_by_label("Access token").fill(site.tokens[username])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(site.url("/records"))


def test_the_line_manager_records_an_employee_review_and_sees_it(context, bury_site: Site, screenshots) -> None:  # noqa: ANN001
    site = bury_site
    shots = screenshots if site.backend == "sqlite" else None
    today = date.today()
    page = context.new_page()
    sign_in_with_token(page, site, "rosa")
    page.goto(site.url("/supervisees"))
    page.get_by_role("link", name=f"Practice and reviews of {WORKER}").click()
    page.wait_for_url("**/practice")
    practice_url = page.url
    assert f"No employee review of {WORKER} is recorded" in html(page)
    form = page.locator("form", has=page.get_by_role("button", name="Record the review"))
    assert form.get_by_label("Which review").locator("option").all_inner_texts() == ["Employee review",
                                                                                     "Six monthly"]
    check(page, "practice with reviews (line manager)", shots)

    form.get_by_label("Which review").select_option("employee_review")
    form.get_by_role("button", name="Record the review").click()  # the day is today's, filled in
    page.wait_for_url(practice_url)
    assert "You recorded the review." in html(page)
    reviews = page.locator("table", has=page.locator("caption", has_text=f"Employee reviews of {WORKER}"))
    row = reviews.locator("tbody tr").filter(has_text=today.strftime("%-d %B %Y"))
    assert row.count() == 1 and LINE_MANAGER in row.inner_text()
    six_months = (today + relativedelta(months=6)).strftime("%-d %B %Y")
    assert page.locator("table tbody tr").filter(has_text=six_months).count() >= 1  # the six-monthly, now due then
    check(page, "practice after a review", shots)
    page.set_viewport_size({"width": 320, "height": 900})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    sign_out(page)

    sign_in_with_token(page, site, "sam")  # the worker's own page: the review, read only
    page.goto(practice_url)
    assert "You read this as: own record" in html(page)
    reviews = page.locator("table", has=page.locator("caption", has_text=f"Employee reviews of {WORKER}"))
    assert reviews.locator("tbody tr").count() == 1 and LINE_MANAGER in reviews.inner_text()
    assert page.get_by_role("button", name="Record the review").count() == 0
    sign_out(page)

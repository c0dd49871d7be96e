"""A worker's practice in the browser (demo: Helen Marsh supervises Paulo Santos, overseas-recruited, supervised
every two weeks until a decision to reduce it, taken after a direct observation of his practice): the supervisor
reaches his page from her supervisees, is refused the step down without an observation (the error summary names
the input), records an observation and then steps the frequency down; his manager reaches it from the due view;
a supervisor of another team and a supervisee are refused (a logged read, so the 403 page says so); at 320 px
the page never scrolls sideways. On SQLite with JavaScript on (axe-core, screenshots); on PostgreSQL with it off."""

import re
from datetime import date

import pytest

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out

SUPERVISOR, WORKER = "helen", "Paulo Santos"
FEEDBACK = "Home visit with a clear purpose; the views of the child were sought and recorded."


@pytest.fixture
def context(browser, site: Site):  # noqa: ANN001, ANN201
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    yield ctx
    ctx.close()


def test_the_supervisor_observes_then_steps_the_frequency_down(context, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    page = context.new_page()
    sign_in(page, site, SUPERVISOR)
    page.goto(site.url("/supervisees"))
    page.get_by_role("link", name=f"Practice and reviews of {WORKER}").click()
    page.wait_for_url("**/practice")
    practice_url = page.url
    assert page.locator("h1").inner_text() == "Practice and reviews"
    assert "every 2 weeks" in html(page) and f"No observation of {WORKER} is recorded" in html(page)
    assert "Direct practice observed by their supervisor every 12 months" in html(page)
    check(page, "practice (supervisor)", shots)
    # Each fact once: the date a cycle falls due (and how late it is) in "Next due" only, not again in "What".
    cycles = page.locator("table", has=page.locator("caption", has_text="when it is next due")).locator("tbody tr")
    assert cycles.count() >= 1
    for row in cycles.all():
        what, when = row.locator("td").all_inner_texts()
        assert re.search(r"\d{4}", when) and "due " not in what.lower() and "overdue" not in what.lower(), (what, when)

    # "Direct observation of practice must take place before a decision is taken to reduce the frequency"
    step_down = page.locator("form", has=page.get_by_role("button", name="Reduce the frequency"))
    step_down.get_by_label("Why they meet the required standard of practice").fill("Meeting the standard")
    step_down.get_by_role("button", name="Reduce the frequency").click()
    summary = page.locator(".govuk-error-summary")
    assert "no direct observation of practice is recorded for this decision" in summary.inner_text().lower()
    assert summary.get_by_role("link").first.get_attribute("href") == "#observation_id"
    assert page.locator("#observation_id-error").count() == 1
    assert "No decision to reduce" in html(page)  # nothing was saved
    check(page, "practice: step down refused", shots)

    observe = page.locator("form", has=page.get_by_role("button", name="Record the observation"))
    observe.get_by_label("Meets the required standard").check()
    observe.get_by_label("Feedback (optional)").fill(FEEDBACK)
    observe.get_by_role("button", name="Record the observation").click()
    page.wait_for_url(practice_url)
    assert "You recorded the observation" in html(page) and FEEDBACK in html(page)
    today = date.today().strftime("%-d %B %Y")
    assert page.locator("table tbody tr").filter(has_text=FEEDBACK).filter(has_text=today).count() == 1

    step_down = page.locator("form", has=page.get_by_role("button", name="Reduce the frequency"))
    step_down.get_by_label("The observation of practice it rests on").select_option(index=1)
    step_down.get_by_label("Why they meet the required standard of practice").fill(
        "Observed practice meets the required standard")
    step_down.get_by_role("button", name="Reduce the frequency").click()
    page.wait_for_url(practice_url)
    assert "You recorded the decision to reduce the supervision frequency" in html(page)
    decision = page.locator("table tbody tr").filter(has_text="From every 2 weeks to every 3 weeks")
    assert decision.count() == 1 and f"The observation of {today}" in decision.inner_text()
    assert "since the decision of" in html(page)
    check(page, "practice after a step down", shots)

    page.set_viewport_size({"width": 320, "height": 900})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    sign_out(page)


def test_the_manager_reaches_it_from_the_due_view_and_strangers_are_refused(context, site: Site) -> None:  # noqa: ANN001
    page = context.new_page()
    sign_in(page, site, "priya")  # Helen's manager
    page.goto(site.url("/due"))
    page.get_by_label("Team").select_option(label="Helen Marsh's team")
    page.get_by_role("button", name="Show").click()
    page.locator("table tbody").get_by_role("link", name=WORKER).click()
    page.wait_for_url("**/practice")
    practice_url = page.url
    assert page.locator("h1").inner_text() == "Practice and reviews"
    assert "You read this as: line manager" in html(page)
    assert page.get_by_role("button", name="Reduce the frequency").count() == 0  # the supervisor's decision
    assert page.get_by_role("button", name="Record the observation").count() == 1
    sign_out(page)

    sign_in(page, site, "amira")  # her own page: read only
    page.get_by_role("link", name="Your practice and reviews").click()
    page.wait_for_url("**/practice")
    assert "You read this as: own record" in html(page)
    assert page.locator("form[method=post][action*=practice]").count() == 0
    sign_out(page)

    for stranger in ("daniel", "amira"):  # another team's supervisor; a supervisee of another team
        sign_in(page, site, stranger)
        response = page.goto(practice_url)
        assert response is not None and response.status == 403, stranger
        assert page.locator("h1").inner_text() == "You cannot do this"
        assert "The attempt has been written to the access log" in html(page)
        assert "Record the observation" not in html(page)
        sign_out(page)


def test_a_refusal_by_role_does_not_claim_a_log_entry(context, site: Site, screenshots) -> None:  # noqa: ANN001
    page = context.new_page()
    sign_in(page, site, "amira")
    response = page.goto(site.url("/due"))  # supervisees may not see supervision compliance: no file touched
    assert response is not None and response.status == 403
    assert "attempt has been written to the access log" not in html(page)
    assert "Nothing was shown or changed" in html(page)
    check(page, "403 (role)", screenshots if site.backend == "sqlite" else None)

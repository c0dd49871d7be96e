"""Supervision in the browser, as the people do it (demo: Daniel Okafor supervises Amira Hussain and Grace
Lindqvist): an addendum to a signed record, countersigned by the other party with the keyboard alone (and a
second tab's countersignature is the 409 page); booking a session, recording it as held with its length,
cancelling one with a reason and rebooking it, and the supervisee's next session on their home page; drafting,
signing and reviewing a supervision agreement ("My agreement"); and the 410 page for a record destroyed under
the retention schedule. On SQLite with JavaScript on (axe-core and screenshots on each new page); on PostgreSQL
with JavaScript off."""

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from infrastructure.destruction_certificates import CERTIFICATE_FORMAT
from tests.browser.conftest import Site, _svl
from tests.browser.pages import check, html, keyboard_to, sign_in, sign_out

SUPERVISOR, SUPERVISEE = "daniel", "amira"
REASON = "Date of the court hearing recorded wrongly"
ADDENDUM = "The final hearing is listed for 14 January, not 4 January as recorded."


@pytest.fixture
def context(browser, site: Site):  # noqa: ANN001, ANN201
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")
    yield ctx
    ctx.close()


def shots_for(site: Site, screenshots):  # noqa: ANN001, ANN201
    return screenshots if site.backend == "sqlite" else None


def _day(d: date) -> str:
    return d.strftime("%-d %B %Y")


def _fill_date(scope, d: date) -> None:  # noqa: ANN001
    scope.get_by_label("Day").fill(str(d.day))
    scope.get_by_label("Month").fill(str(d.month))
    scope.get_by_label("Year").fill(str(d.year))


def test_an_addendum_is_added_and_countersigned_with_the_keyboard(context, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = shots_for(site, screenshots)
    page = context.new_page()
    sign_in(page, site, SUPERVISOR)
    rows = page.locator("table.govuk-table tbody tr").filter(has_text="Amira Hussain").filter(has_text="Signed by both")
    assert rows.count() >= 1, "the demo has records of Amira's signed by both"
    rows.first.get_by_role("link").first.click()
    record_url = page.url
    before = page.locator("h3:has-text('Addendum ')").count()

    page.get_by_role("link", name="add an addendum").click()
    check(page, "add an addendum", shots)
    page.get_by_role("button", name="Add and sign the addendum").click()
    summary = page.locator(".govuk-error-summary")
    assert "Enter the reason for the addendum" in summary.inner_text()
    assert "Enter what the addendum says" in summary.inner_text()
    assert summary.get_by_role("link").first.get_attribute("href") == "#reason"
    check(page, "add an addendum with errors", shots)
    page.get_by_label("Reason for the addendum").fill(REASON)
    page.get_by_label("What the addendum says").fill(ADDENDUM)
    page.get_by_role("button", name="Add and sign the addendum").click()
    page.wait_for_url(record_url)
    number = before + 1
    assert "You added and signed the addendum" in html(page) and ADDENDUM in html(page)
    assert page.get_by_role("button", name=f"Countersign addendum {number}").count() == 0  # not your own
    fingerprint = page.locator(f"#addendum-{number}-sha256").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    check(page, "record with an addendum (supervisor)", shots)
    sign_out(page)

    # -- the supervisee countersigns, with the keyboard alone; a second tab then tries again: 409 ---------------
    sign_in(page, site, SUPERVISEE)
    page.goto(record_url)
    assert ADDENDUM in html(page) and REASON in html(page)
    stale = context.new_page()
    stale.goto(f"{record_url}/addenda/{number}/countersign")
    keyboard_to(page, f"Countersign addendum {number}")
    page.wait_for_url(f"{record_url}/addenda/{number}/countersign")
    assert page.locator("#fingerprint").inner_text().strip() == fingerprint  # what is signed, shown: none typed
    check(page, "countersign an addendum", shots)
    keyboard_to(page, f"Countersign addendum {number}")
    page.wait_for_url(record_url)
    assert f"You countersigned addendum {number}" in html(page)
    assert "Countersigned by the supervisee" in page.locator(f"h3:has-text('Addendum {number}:') + p + dl").inner_text()

    with stale.expect_response(lambda r: r.url.endswith("/countersign") and r.request.method == "POST") as answer:
        stale.get_by_role("button", name=f"Countersign addendum {number}").click()
    assert answer.value.status == 409
    assert "The record has changed" in stale.locator("h1").inner_text()
    check(stale, "409 after a countersignature", shots)
    stale.close()


def test_book_hold_cancel_and_rebook_sessions(context, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = shots_for(site, screenshots)
    page = context.new_page()
    today = date.today()
    sign_in(page, site, SUPERVISOR)
    page.get_by_role("link", name="Sessions", exact=True).click()
    check(page, "sessions (supervisor)", shots)
    page.get_by_role("button", name="Book a session").click()
    page.get_by_label("Who with").select_option(label="Amira Hussain")
    page.get_by_role("button", name="Book the session").click()
    summary = page.locator(".govuk-error-summary")
    assert "Enter the date of the session" in summary.inner_text()
    assert summary.get_by_role("link").first.get_attribute("href") == "#starts-day"
    check(page, "book a session with errors", shots)

    # -- today's session, held with its length ------------------------------------------------------------------
    _fill_date(page, today)
    page.get_by_label("Start time").fill("00:05")
    page.get_by_label("Planned length").fill("60")
    page.get_by_role("button", name="Book the session").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    assert "You booked the session" in html(page) and "60 minutes" in html(page)
    check(page, "session (booked)", shots)
    held = page.locator("form[action$='/held']")
    held.get_by_label("How long it lasted").fill("")
    held.get_by_role("button", name="Record as held").click()
    assert "Enter how many minutes" in page.locator(".govuk-error-summary").inner_text()
    page.locator("form[action$='/held']").get_by_label("How long it lasted").fill("75")
    page.locator("form[action$='/held']").get_by_role("button", name="Record as held").click()
    assert "You recorded the session as held" in html(page)
    lengths = page.locator(".govuk-summary-list").inner_text()
    assert "75 minutes" in lengths and _day(today) in lengths

    # -- next week's session, cancelled with a reason, then rebooked --------------------------------------------
    page.goto(site.url("/sessions/new?supervisee=") + _amira(page, site))
    _fill_date(page, today + timedelta(days=7))
    page.get_by_label("Start time").fill("10:00")
    page.get_by_role("button", name="Book the session").click()
    cancelled_url = page.url
    stale = context.new_page()
    stale.goto(cancelled_url)
    page.get_by_role("button", name="Cancel the session").click()
    assert "Choose why the session is cancelled" in page.locator(".govuk-error-summary").inner_text()
    check(page, "cancel a session with errors", shots)
    page.get_by_label("Annual or other leave").check()
    page.get_by_role("button", name="Cancel the session").click()
    assert "You cancelled the session" in html(page)
    assert "because of leave" in page.locator(".govuk-summary-list").inner_text()
    check(page, "session (cancelled)", shots)
    stale.get_by_label("Sickness").check()  # a second tab, still showing the session as booked
    with stale.expect_response(lambda r: r.url.endswith("/cancellation")) as answer:
        stale.get_by_role("button", name="Cancel the session").click()
    assert answer.value.status == 409
    assert "Nothing was saved" in stale.locator(".govuk-error-summary").inner_text()
    assert "because of leave" in stale.locator(".govuk-summary-list").inner_text()  # the session as it is now
    stale.close()
    rebooked_on = today + timedelta(days=14)
    rebooking = page.locator("form[action$='/rebooking']")
    _fill_date(rebooking, rebooked_on)
    rebooking.get_by_label("Start time").fill("14:30")
    rebooking.get_by_role("button", name="Rebook").click()
    page.wait_for_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    assert page.url != cancelled_url and "You rebooked the session" in html(page)
    assert "This session replaces" in html(page)
    page.get_by_role("link", name="a cancelled session").click()
    assert page.url == cancelled_url and "see the new session" in html(page)

    page.get_by_role("link", name="My supervisees").click()
    amira = page.locator("table tbody tr").filter(has_text="Amira Hussain")
    assert _day(rebooked_on) in amira.locator("td").nth(4).inner_text()
    check(page, "supervisees with next sessions", shots)
    sign_out(page)

    # -- the supervisee's home page shows the next session ------------------------------------------------------
    sign_in(page, site, SUPERVISEE)
    nxt = page.locator(".govuk-inset-text").filter(has_text="Your next supervision session")
    assert _day(rebooked_on) in nxt.inner_text() and "Daniel Okafor" in nxt.inner_text()
    check(page, "records with the next session (supervisee)", shots)
    nxt.get_by_role("link").click()
    assert "Record the session as held" not in html(page)  # the supervisor's step
    assert page.get_by_role("button", name="Cancel the session").count() == 1  # either party may cancel
    check(page, "session (supervisee)", shots)


def _amira(page, site: Site) -> str:  # noqa: ANN001
    """Amira's worker id, from the supervisor's own list."""
    page.goto(site.url("/supervisees"))
    href = page.get_by_role("link", name="Book a session with Amira Hussain").get_attribute("href") or ""
    return href.rsplit("=", 1)[1]


def test_an_agreement_is_drafted_signed_by_both_and_reviewed(context, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = shots_for(site, screenshots)
    page = context.new_page()
    today = date.today()
    sign_in(page, site, SUPERVISOR)
    page.get_by_role("link", name="Agreements", exact=True).click()
    assert "In force" in html(page)  # the demo's agreements with Daniel's team
    check(page, "agreements (supervisor)", shots)
    page.get_by_role("button", name="Draft an agreement").click()
    page.get_by_label("Supervisee").select_option(label="Grace Lindqvist")  # hers lapsed at her transfer
    page.get_by_role("button", name="Save the draft agreement").click()
    summary = page.locator(".govuk-error-summary")
    assert "needs at least one term" in summary.inner_text()
    assert summary.get_by_role("link").first.get_attribute("href") == "#frequency"
    check(page, "draft an agreement with errors", shots)
    page.get_by_label("How often you meet").fill("Every four weeks")
    page.get_by_label("How long a session lasts").fill("90")
    page.get_by_label("Where you meet").fill("The team office, in a private room")
    page.get_by_label("Arrangements").fill("Either of us may rebook with two days' notice.")
    page.get_by_role("button", name="Save the draft agreement").click()
    page.wait_for_url(re.compile(r"/agreements/[0-9a-f-]{36}$"))
    agreement_url = page.url
    assert "You drafted the agreement" in html(page) and "Every four weeks" in html(page)
    page.get_by_role("button", name="Sign the agreement").click()
    assert "You signed the agreement" in html(page) and "Waiting for the supervisee to sign" in html(page)
    check(page, "agreement (signed by the supervisor)", shots)
    sign_out(page)

    sign_in(page, site, "grace")
    needs = page.locator("h2:has-text('What needs you') + ul")
    assert needs.get_by_role("link", name="Supervision agreement with Daniel Okafor").count() == 1
    page.get_by_role("link", name="My agreement", exact=True).click()
    assert page.locator("h1").inner_text() == "My supervision agreement"
    check(page, "my agreement (list)", shots)
    page.get_by_role("link", name=re.compile("^Daniel Okafor")).click()
    assert page.url == agreement_url and "90 minutes" in html(page)
    check(page, "my agreement", shots)
    page.get_by_role("button", name="Sign the agreement").click()
    assert "You signed the agreement" in html(page) and "In force" in html(page)
    facts = page.locator(".govuk-summary-list").nth(1).inner_text()
    assert _day(today) in facts and "Next review due" in facts
    reviewing = page.locator("form[action$='/reviews']")
    reviewing.get_by_label("Day").fill("31")
    reviewing.get_by_label("Month").fill("2")
    reviewing.get_by_role("button", name="Record the review").click()
    assert "must be a real date" in page.locator(".govuk-error-summary").inner_text()
    reviewing = page.locator("form[action$='/reviews']")
    _fill_date(reviewing, today)
    reviewing.get_by_label("Notes from the review (optional)").fill("Still working well for both of us.")
    reviewing.get_by_role("button", name="Record the review").click()
    assert "You recorded the review" in html(page)
    assert "Last reviewed" in html(page)
    assert _day(today) in page.locator(".govuk-summary-list").nth(1).inner_text()
    check(page, "agreement (in force, reviewed)", shots)
    page.get_by_role("link", name="Who read my records").click()
    assert "read agreement" in page.locator("table").inner_text()


def _destroyed_demo_records(site: Site) -> list[str]:
    """The records of the demo's one file past its retention. The DPO's own story may have destroyed it on this
    server already: then its certificate names them. Otherwise it is destroyed here, a second person approving."""
    # The folder also holds case supervision records' certificates, which name one record each and no file.
    certificates = [c for c in sorted(Path(site.env["SVL_CERTIFICATE_DIR"]).glob("*.json"))
                    if any(line.startswith("records ") for line in json.loads(c.read_text())["statement"].splitlines())]
    if not certificates:
        proposal = json.loads(_svl(site.env, "retention", "propose", "--as", "dpo", "--json"))
        _svl(site.env, "retention", "approve", proposal["proposal_id"], "--rationale", "due under the schedule",
             "--as", "hr")
        outcomes = json.loads(_svl(site.env, "retention", "run", "--as", "dpo", "--json"))
        return [r for o in outcomes for r in o["record_ids"]]
    statement = json.loads(certificates[0].read_text())["statement"]
    [records] = [line for line in statement.splitlines() if line.startswith("records ")]
    return records.split()[2:]  # "records N id id ..."


def test_a_destroyed_record_is_the_410_page(context, site: Site, screenshots) -> None:  # noqa: ANN001
    destroyed = _destroyed_demo_records(site)
    assert destroyed, "the demo has a migrated leaver past BCP's six years"
    page = context.new_page()
    sign_in(page, site, "helen")
    response = page.goto(site.url(f"/records/{destroyed[0]}"))
    assert response is not None and response.status == 410
    assert page.locator("h1").inner_text() == "This record was destroyed"
    assert "retention" in html(page) and "data protection officer" in html(page)
    check(page, "410 destroyed", shots_for(site, screenshots))

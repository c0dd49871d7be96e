"""Case supervision records in the browser (bcp keeps them apart from personal supervision): a supervisor records
one from My supervisees (an identifiable case reference refused, the error summary naming the field), reads it (a
logged read) and confirms its decision is on the child's record; the DPO proposes the records due under their own
retention, cannot approve their own list, HR approves it and the DPO destroys them, confirmed, and downloads each
record's own certificate; a supervisee and a
supervisor who is not the worker's are refused. Each new page: axe-core 0 violations, screenshots at 320 px."""

import json
from datetime import date, timedelta
from pathlib import Path

import httpx

from tests.browser.bundles import svl_verify
from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out

CHLOE = "Chloe Evans"


def _context(browser, site: Site):  # noqa: ANN001, ANN202
    return browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")


def _demo_case_records(site: Site) -> list[dict]:
    """The demo's case decisions as Daniel sees them over the API (ids and dates, no content)."""
    answer = httpx.get(site.url("/api/v1/case-records/due"),
                       headers={"Authorization": f"Bearer {site.tokens['daniel']}"}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _fill_date(page, prefix: str, day) -> None:  # noqa: ANN001
    page.locator(f"#{prefix}-day").fill(str(day.day))
    page.locator(f'input[name="{prefix}-month"]').fill(str(day.month))
    page.locator(f'input[name="{prefix}-year"]').fill(str(day.year))


def test_a_supervisor_records_case_supervision_and_confirms_the_decision(browser, site: Site,
                                                                        screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = _context(browser, site)
    page = ctx.new_page()
    try:
        sign_in(page, site, "daniel")
        assert "case decision" in html(page)  # What needs you: the demo's decision still to go on the child's record
        page.get_by_role("link", name="My supervisees").click()
        page.get_by_role("link", name=f"Record case supervision for {CHLOE}").click()
        content = html(page)
        assert "Record case supervision" in content and "anonymous and relevant" in content
        check(page, "case supervision form", shots)

        page.locator("#case_reference").fill("Jessica Brown")  # a name, not the number of the child's record
        ten_days_ago = _today(page) - timedelta(days=10)
        _fill_date(page, "discussed_on", ten_days_ago)
        page.locator("#discussion").fill("Reviewed the safety plan after the strategy meeting")
        page.locator("#decisions").fill("Child protection conference to be requested")
        page.get_by_role("button", name="Save the case supervision record").click()
        summary = page.locator(".govuk-error-summary")
        assert summary.get_by_role("link").first.get_attribute("href") == "#case_reference"
        assert "looks like a full name" in summary.inner_text()
        check(page, "case supervision form with errors", shots)

        page.locator("#case_reference").fill("LCS 60231")
        page.get_by_role("button", name="Save the case supervision record").click()
        content = html(page)
        assert "You recorded the case supervision" in content and "LCS 60231" in content
        assert "Overdue" in content  # ten days ago: past bcp's week
        check(page, "case supervision record", shots)

        page.get_by_role("link", name="Case decisions").first.click()
        content = html(page)
        assert "Case decisions to put on the child" in content
        assert "Overdue" in content and "Due" in content  # ours, and the demo's from two days ago
        check(page, "case decisions to put on the child's record", shots)

        ours = next(r for r in _demo_case_records(site) if r["discussed_on"] == ten_days_ago.isoformat())
        action = f'form[action="/case-records/{ours["record_id"]}/on-childs-record"]'
        page.locator(f"details:has({action}) summary").click()
        page.locator(action).get_by_role("button", name="Confirm it is on the child's record").click()
        summary = page.locator(".govuk-error-summary")
        assert summary.get_by_role("link").first.get_attribute("href") == f"#c-{ours['record_id']}-reference"
        check(page, "case decisions with errors", shots)
        page.locator(f"#c-{ours['record_id']}-reference").fill("Case note 88123")
        page.locator(action).get_by_role("button", name="Confirm it is on the child's record").click()
        content = html(page)
        assert "You confirmed the decision is on the child" in content and "late" in content
        sign_out(page)
    finally:
        ctx.close()


def test_the_dpo_proposes_hr_approves_and_the_dpo_destroys_case_records(browser, site: Site,
                                                                       screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = _context(browser, site)
    page = ctx.new_page()
    try:
        sign_in(page, site, "dpo")
        page.get_by_role("link", name="Retention").click()
        page.get_by_role("link", name="Case supervision records").click()
        content = html(page)
        assert "Due for destruction" in content and "own setting" in content
        check(page, "case supervision records retention", shots)
        page.get_by_role("button", name="Propose these records for destruction").click()
        content = html(page)
        assert "proposed for destruction" in content and "You proposed this list" in content
        assert page.get_by_role("button", name="Approve the list").count() == 0  # never offered to the proposer
        proposal_url = page.url
        check(page, "case records destruction list, as its proposer", shots)
        # ... and the application refuses it if the proposer sends the approval anyway
        token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
        answer = page.request.post(proposal_url + "/approve", form={"csrf_token": token, "rationale": "mine",
                                                                    "confirmed": "yes"})
        assert answer.status == 403 and "you proposed this list" in answer.text()
        sign_out(page)

        sign_in(page, site, "hr")
        page.goto(site.url("/retention/case-records"))
        page.locator('a[href^="/retention/case-records/proposals/"]').first.click()
        page.get_by_role("button", name="Approve the list").click()
        summary = page.locator(".govuk-error-summary")
        assert summary.get_by_role("link").first.get_attribute("href") == "#approve-rationale"
        assert "Confirm that you have checked the list" in summary.inner_text()
        check(page, "case records destruction list, review with errors", shots)
        page.locator("#approve-rationale").fill("Checked against the schedule: no hold, no request pending")
        page.locator("#approve-confirmed").check()
        page.get_by_role("button", name="Approve the list").click()
        assert "List approved" in html(page) and "user:hr" in html(page)
        sign_out(page)

        sign_in(page, site, "dpo")
        page.goto(proposal_url)
        page.get_by_role("button", name="Destroy the records").click()
        assert "Confirm that you want these case supervision records destroyed now" in page.locator(
            ".govuk-error-summary").inner_text()
        check(page, "case records destruction, to confirm", shots)
        page.locator("#run-confirmed").check()
        page.get_by_role("button", name="Destroy the records").click()
        page.wait_for_url(site.url("/retention/case-records"))
        content = html(page)
        assert "1 case supervision record(s) destroyed" in content and "Destroyed" in content
        # its own certificate, listed with the personal files' and checked with the organisation's key
        page.get_by_role("link", name="destruction certificates").click()
        content = html(page)
        assert "(record class case_supervision)" in content and "Verified" in content
        check(page, "destruction certificates with a case supervision record", shots)
        with page.expect_download() as download:
            page.get_by_role("link", name="the certificate of case supervision record").first.click()
        saved = Path(download.value.path())
        assert json.loads(saved.read_text())["format"] == "svl-destruction-certificate/v3"
        assert "(record class case_supervision)" in svl_verify(site, saved)  # with the published key
        sign_out(page)
    finally:
        ctx.close()


def test_a_supervisee_and_another_supervisor_are_refused(browser, site: Site) -> None:  # noqa: ANN001
    demo = _demo_case_records(site)
    chloe = demo[0]["worker_id"]
    kept = demo[-1]["record_id"]  # the demo's recent record: never destroyed by the DPO's list
    ctx = _context(browser, site)
    page = ctx.new_page()
    try:
        sign_in(page, site, "amira")  # a supervisee
        for path in (f"/case-records/new/{chloe}", f"/case-records/{kept}", "/retention/case-records"):
            answer = page.goto(site.url(path))
            assert answer is not None and answer.status == 403, path
        assert "You cannot do this" in html(page)
        sign_out(page)
        sign_in(page, site, "helen")  # a supervisor, not Chloe's
        for path in (f"/case-records/new/{chloe}", f"/case-records/{kept}"):
            answer = page.goto(site.url(path))
            assert answer is not None and answer.status == 403, path
        assert "LCS 55821" not in html(page)
    finally:
        ctx.close()


def _today(page):  # noqa: ANN001, ANN202
    """The server's today, as the form's default date of the discussion shows it."""
    return date(int(page.locator('input[name="discussed_on-year"]').input_value()),
                int(page.locator('input[name="discussed_on-month"]').input_value()),
                int(page.locator("#discussed_on-day").input_value()))

"""The DPO's retention pages in the browser: the schedule and a dry run, a proposal, approval by a second
authorised person (HR) with its confirmation, the destruction run with its confirmation, the certificate shown,
verified and downloadable, and legal holds: one placed on a file chosen by the worker's name (nothing chosen first)
and shown by that name, then released (with its reason missing first). The proposer may not approve their own list."""

import json

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


def test_the_dpo_proposes_hr_approves_the_dpo_destroys_and_the_certificate_is_shown(browser, site: Site,
                                                                                     screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite",
                              accept_downloads=True)
    page = ctx.new_page()
    try:
        sign_in(page, site, "dpo")
        page.get_by_role("link", name="Retention").click()
        assert "The schedule" in html(page)
        check(page, "retention schedule", shots)
        page.get_by_role("button", name="Show what is due (dry run)").click()
        assert "Dry run: nothing was destroyed" in html(page)
        check(page, "retention dry run", shots)
        page.get_by_role("button", name="Propose these files for destruction").click()
        assert "file(s) proposed for destruction" in html(page)
        assert "You proposed this list" in html(page)
        assert page.get_by_role("button", name="Approve the list").count() == 0  # never the proposer
        assert "Nora Quinn" in page.locator("table", has_text="file(s) on the list").inner_text()  # by name
        proposal_url = page.url
        check(page, "destruction proposal, as its proposer", shots)
        sign_out(page)

        sign_in(page, site, "hr")
        page.goto(proposal_url)
        page.get_by_role("button", name="Approve the list").click()
        summary = page.locator(".govuk-error-summary")
        assert summary.get_by_role("link").first.get_attribute("href") == "#approve-rationale"
        assert "Confirm that you have checked the list" in summary.inner_text()
        check(page, "destruction proposal approval with errors", shots)
        page.locator("#approve-rationale").fill("Checked against HR's leavers list: no claim or request pending")
        page.locator("#approve-confirmed").check()
        page.get_by_role("button", name="Approve the list").click()
        assert "List approved" in html(page)
        decided = page.locator(".govuk-summary-list__row", has_text="Decided by").inner_text()
        assert "hr, " in decided and "user:hr" not in decided  # the account's name, not the id the events keep
        check(page, "destruction proposal approved", shots)
        sign_out(page)

        sign_in(page, site, "dpo")
        page.goto(proposal_url)
        page.get_by_role("button", name="Destroy the files").click()
        assert "Confirm that you want these files destroyed now" in page.locator(".govuk-error-summary").inner_text()
        page.locator("#run-confirmed").check()
        page.get_by_role("button", name="Destroy the files").click()
        page.wait_for_url(site.url("/retention/certificates"))
        content = html(page)
        assert "1 file(s) destroyed" in content and "Verified" in content
        assert "approved by a second person, user:hr" in content and "by user:dpo" in content
        check(page, "destruction certificates", shots)
        link = page.locator("a[download]").first
        answer = page.request.get(site.url(link.get_attribute("href")))
        assert answer.status == 200 and json.loads(answer.text())["format"] == "svl-destruction-certificate/v2"
        page.goto(proposal_url)  # the name went with the file's key
        listed = page.locator("table", has_text="file(s) on the list").inner_text()
        assert "A destroyed file" in listed and "Nora Quinn" not in listed

        page.goto(site.url("/retention/holds"))
        assert "Allegation" in html(page) or "hold" in html(page)
        page.get_by_role("button", name="Place the hold").click()
        links = page.locator(".govuk-error-summary").get_by_role("link")
        assert [links.nth(i).get_attribute("href") for i in range(links.count())] == ["#worker_id", "#reason",
                                                                                    "#reference"]
        assert "Choose whose file to hold" in page.locator("#worker_id-error").inner_text()
        check(page, "legal holds with errors", shots)
        reference = f"INV-BROWSER-{site.backend}"
        whose = page.get_by_label("Whose file")
        liam = whose.locator("option", has_text="Liam Walsh").get_attribute("value")
        whose.select_option(label="Liam Walsh")  # by name: the id is only the choice's value
        page.locator("#reason").fill("Grievance raised by a former colleague")
        page.locator("#reference").fill(reference)
        page.get_by_role("button", name="Place the hold").click()
        assert "Hold placed" in html(page)
        held = page.locator(".govuk-table__row", has_text=reference).inner_text()
        assert "Liam Walsh" in held and liam not in held and liam[:8] not in held  # the name, not the id
        check(page, "legal holds, one placed", shots)
        row = page.locator(".govuk-table__row", has_text=reference)
        row.get_by_role("button", name="Release the hold").click()  # no reason first
        summary = page.locator(".govuk-error-summary")
        assert "Give the reason for releasing the hold" in summary.inner_text()
        target = summary.get_by_role("link").first.get_attribute("href")
        assert target.startswith("#release-") and page.locator(target).count() == 1
        check(page, "legal holds, a release with errors", shots)
        row = page.locator(".govuk-table__row", has_text=reference)
        row.get_by_label("Reason for release").fill("Grievance withdrawn on 1 December")
        row.get_by_role("button", name="Release the hold").click()
        assert "Hold released" in html(page)
        released = page.locator(".govuk-table__row", has_text=reference).inner_text()
        assert "Released" in released and "Grievance withdrawn on 1 December" in released
        assert page.locator(".govuk-table__row", has_text=reference).get_by_role("button").count() == 0
        check(page, "legal holds, one released", shots)
        sign_out(page)

        sign_in(page, site, "amira")
        response = page.goto(site.url("/retention"))
        assert response is not None and response.status == 403
    finally:
        ctx.close()

"""An inspector in the browser: the grants they hold, the access log with a filter, its flags and the CSV
download, a record's history as a timeline, and the record as it stood on a date (each a logged read)."""

from datetime import date

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in


def test_an_inspector_reviews_grants_the_access_log_and_a_records_history(browser, site: Site,  # noqa: ANN001
                                                                         screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite",
                              accept_downloads=True)
    page = ctx.new_page()
    try:
        sign_in(page, site, "ofsted")
        page.get_by_role("link", name="Grants").click()
        assert "Ofsted ILACS inspection" in html(page) and "Live" in html(page)
        check(page, "grants held", shots)

        page.get_by_role("link", name="Records").click()
        page.locator("table tbody tr a").first.click()
        record_url = page.url
        page.get_by_role("link", name="See every version of this record, and what changed").click()
        assert "drafted the record" in html(page)
        check(page, "history", shots)
        page.get_by_label("Date").fill(date.today().isoformat())
        page.get_by_role("button", name="Show the record then").click()
        assert "The record as it stood on" in page.locator("h1").inner_text()
        check(page, "record as of a date", shots)

        page.get_by_role("link", name="Access log").click()
        page.get_by_label("Reader").fill("ofsted")
        page.get_by_role("button", name="Filter").click()
        table = page.locator("table").inner_text()
        assert "read history" in table and "read as of" in table and "(web)" in table
        check(page, "access log", shots)
        with page.expect_download() as download:
            page.get_by_role("link", name="Download these entries (CSV)").click()
        csv = download.value.path().read_text()
        assert csv.splitlines()[0].startswith("entry_id,") and record_url.rsplit("/", 1)[1] in csv
    finally:
        ctx.close()

"""The integrity ledger in the browser: the administrator sees the latest checkpoint, verifies the whole ledger
(timed, as `svl verify`), downloads one record's bundle and it verifies with svl-verify and the published key;
nobody else may. The DPO's subject access pack: a PDF whose attached export and bundles verify, each record
read logged (channel web); and the same export as one JSON file from the retention page, the person chosen by name
(after a refusal with nobody chosen)."""

import json
from datetime import date

import httpx

from tests.browser.bundles import attachments, published_key, svl_verify
from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


def _context(browser, site: Site):  # noqa: ANN001, ANN202
    return browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite",
                               accept_downloads=True)


def _a_record(site: Site) -> str:
    answer = httpx.get(site.url("/api/v1/records"), headers={"Authorization": f"Bearer {site.tokens['daniel']}"},
                       timeout=30)
    return answer.json()[0]["record_id"]


def test_the_administrator_verifies_the_ledger_and_downloads_a_bundle_that_verifies(  # noqa: ANN001
        browser, site: Site, screenshots, tmp_path) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    record_id = _a_record(site)
    ctx = _context(browser, site)
    page = ctx.new_page()
    try:
        sign_in(page, site, "hr")
        page.get_by_role("link", name="Ledger", exact=True).click()
        checkpoint = page.locator(".govuk-summary-list").first.inner_text()
        assert "Entries it covers" in checkpoint and "This is this service's signing key" in checkpoint
        assert "not been verified since the service last started" in html(page)
        assert f"svl-verify bundle-RECORD.json --key verifier.vkey" in page.locator("#outsider ~ ol").inner_text()
        with page.expect_download() as key_download:
            page.get_by_role("link", name="Download the verifier key (verifier.vkey)").click()
        assert key_download.value.path().read_text().strip() == published_key(site).read_text().strip()

        page.get_by_role("button", name="Verify the ledger now").click()
        verification = page.locator("#verification ~ p").first.inner_text() + html(page)
        assert "Intact" in verification and "seconds" in verification and "by hr" in verification
        check(page, "the integrity ledger", shots)

        page.get_by_label("Record id").fill(record_id[:8])
        page.get_by_role("button", name="Download the bundle").click()
        assert page.locator(".govuk-error-summary").get_by_role("link").get_attribute("href") == "#record_id"
        check(page, "the integrity ledger with errors", shots)
        page.get_by_label("Record id").fill(record_id)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the bundle").click()
        assert download.value.suggested_filename == f"bundle-{record_id}.json"
        bundle = tmp_path / download.value.suggested_filename
        download.value.save_as(bundle)
        assert json.loads(bundle.read_text())["record_id"] == record_id and "content" not in json.loads(
            bundle.read_text())
        assert f"bundle for record {record_id}" in svl_verify(site, bundle)
        sign_out(page)

        sign_in(page, site, "daniel")  # the ledger's page and bundles are for administrators only
        assert page.get_by_role("link", name="Ledger", exact=True).count() == 0
        response = page.goto(site.url("/ledger"))
        assert response is not None and response.status == 403
    finally:
        ctx.close()


def test_the_dpo_downloads_a_subject_access_pack_whose_bundles_verify(browser, site: Site, tmp_path,  # noqa: ANN001
                                                                       screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = _context(browser, site)
    page = ctx.new_page()
    try:
        sign_in(page, site, "dpo")
        page.get_by_role("link", name="Grants", exact=True).click()
        pack_link = page.get_by_role("link", name="Download the subject access pack (PDF) for Liam Walsh")
        liam = pack_link.get_attribute("href").split("/")[-2]
        with page.expect_download() as download:
            pack_link.click()
        pdf = download.value.path().read_bytes()

        # The same export as one JSON file, from the retention page (POST /retention/sar), the person chosen by
        # name: nobody chosen first.
        page.get_by_role("link", name="Retention").click()
        page.get_by_role("button", name="Download the subject access export").click()
        summary = page.locator(".govuk-error-summary")
        assert "Choose whose data was requested" in summary.inner_text()
        assert summary.get_by_role("link").first.get_attribute("href") == "#sar-worker_id"
        assert "Choose whose data was requested" in page.locator("#sar-worker_id-error").inner_text()
        check(page, "retention with a subject access export error", shots)
        whose = page.get_by_label("Whose data was requested")
        whose.select_option(label="Liam Walsh")
        assert whose.input_value() == liam  # the name chosen is the person the grant covers
        with page.expect_download() as json_download:
            page.get_by_role("button", name="Download the subject access export").click()
        assert json_download.value.suggested_filename == f"subject-access-{liam}.json"
        exported = json.loads(json_download.value.path().read_text())
    finally:
        ctx.close()
    assert exported["worker"]["name"] == "Liam Walsh" and exported["subject_access_request"]["prepared_by"] == "dpo"
    in_json = ([r["record_id"] for r in exported["supervision_records"]]
               + [c["record_id"] for c in exported["case_supervision_records"]])
    assert in_json and sorted(exported["bundles"]) == sorted(in_json)
    assert all(b["record_id"] == rid for rid, b in exported["bundles"].items())
    attached = attachments(pdf, tmp_path / "sar")
    export = json.loads(attached.pop("subject-access.json").read_text())
    assert export["worker"]["name"] == "Liam Walsh" and export["subject_access_request"]["prepared_by"] == "dpo"
    records = ([r["record_id"] for r in export["supervision_records"]]
               + [c["record_id"] for c in export["case_supervision_records"]])
    assert records and sorted(attached) == sorted(f"bundle-{r}.json" for r in records)
    for name, path in attached.items():
        assert f"bundle for record {name[7:-5]}" in svl_verify(site, path)
    log = httpx.get(site.url("/api/v1/access-log"), params={"reader": "dpo", "since": date.today().isoformat()},
                    headers={"Authorization": f"Bearer {site.tokens['dpo']}"}, timeout=30).json()["entries"]
    logged = {e["record_id"] for e in log if e["action"] == "sar_export" and e["channel"] == "web"
              and e["outcome"] == "allowed"}
    assert set(records) <= logged, (records, logged)

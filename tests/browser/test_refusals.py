"""Refusals in the browser: the 403 page, for an inspector whose grant does not cover the record and for a
former supervisor after the worker's transfer (demo: Grace moved from Helen Marsh to Daniel Okafor)."""

import re

import pytest

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


@pytest.fixture
def page(browser, site: Site):  # noqa: ANN001, ANN201
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx.new_page()
    ctx.close()


def _record_ids(page, supervisor: str | None = None) -> list[str]:  # noqa: ANN001
    rows = page.locator("table.govuk-table tbody tr")
    ids = []
    for i in range(rows.count()):
        row = rows.nth(i)
        if supervisor is None or supervisor in row.locator("td").nth(2).inner_text():
            href = row.get_by_role("link").first.get_attribute("href") or ""
            ids += re.findall(r"/records/([0-9a-f-]{36})", href)
    return ids


def test_an_inspector_without_a_grant_for_the_team_gets_the_403_page(page, site: Site, screenshots) -> None:  # noqa: ANN001
    sign_in(page, site, "helen")  # Helen's team and her own records: outside Ofsted's grant (Daniel's team)
    outside = _record_ids(page)[0]
    sign_out(page)
    sign_in(page, site, "ofsted")
    response = page.goto(site.url(f"/records/{outside}"))
    assert response is not None and response.status == 403
    assert page.locator("h1").inner_text() == "You cannot do this"
    assert "access log" in html(page) and "Discussion" not in html(page)
    check(page, "403", screenshots if site.backend == "sqlite" else None)


def test_a_former_supervisor_cannot_open_a_record_after_the_transfer(page, site: Site) -> None:  # noqa: ANN001
    sign_in(page, site, "grace")
    before_transfer = _record_ids(page, supervisor="Helen Marsh")
    assert before_transfer, "the demo has Grace's records from before her transfer"
    sign_out(page)
    sign_in(page, site, "helen")
    response = page.goto(site.url(f"/records/{before_transfer[0]}"))
    assert response is not None and response.status == 403
    assert "You cannot do this" in page.locator("h1").inner_text()

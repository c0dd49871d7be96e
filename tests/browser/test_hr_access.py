"""HR in the browser, over who may see what: a grant (with a mistake first) that the inspector then holds, and
its revocation; a new account, its access token shown once, the new user signed in with it, and the account
disabled: that user's open session and their token stop working at once."""

import uuid
from datetime import date, timedelta

import httpx

from tests.browser.conftest import Site
from tests.browser.pages import check, html, sign_in, sign_out


def _context(browser, site: Site):  # noqa: ANN001, ANN202
    return browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=site.backend == "sqlite")


def test_hr_grants_access_the_inspector_holds_it_and_hr_revokes_it(browser, site: Site, screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    ctx = _context(browser, site)
    page = ctx.new_page()
    purpose = f"Thematic inspection of supervision, ref THM-{uuid.uuid4().hex[:6].upper()}"
    try:
        sign_in(page, site, "hr")
        page.get_by_role("link", name="Grants", exact=True).click()
        check(page, "access grants (HR)", shots)
        page.get_by_role("button", name="Grant access").click()
        check(page, "grant access", shots)
        page.get_by_role("button", name="Grant access").click()  # nothing filled in
        summary = page.locator(".govuk-error-summary")
        hrefs = [a.get_attribute("href") for a in summary.get_by_role("link").all()]
        assert hrefs == ["#grantee", "#category", "#purpose", "#scope_kind", "#expires_on"], hrefs
        check(page, "grant access with errors", shots)

        page.get_by_label("Who the grant is for").select_option("ofsted")
        page.get_by_label("Inspection (for an inspector)").check()
        page.get_by_label("Purpose").fill(purpose)
        page.get_by_label("A supervisor's team").check()
        helen = page.locator("#scope_worker option", has_text="Helen Marsh").get_attribute("value")
        page.get_by_label("Whose file or team").select_option(helen)
        page.get_by_label("Until").fill((date.today() + timedelta(days=30)).isoformat())
        check(page, "grant access filled in", shots)
        page.get_by_role("button", name="Grant access").click()
        assert "Access granted to ofsted" in html(page)
        row = page.locator("tr", has_text=purpose)
        assert "Helen Marsh" in row.inner_text() and "Live" in row.inner_text()
        sign_out(page)

        sign_in(page, site, "ofsted")
        page.get_by_role("link", name="Grants", exact=True).click()
        row = page.locator("tr", has_text=purpose)
        assert "Live" in row.inner_text() and "team" in row.inner_text()
        assert page.get_by_role("link", name="Revoke").count() == 0  # revoking is HR's
        for path in ("/grants/new", "/accounts", "/accounts/ofsted"):  # and so are granting and accounts
            response = page.goto(site.url(path))
            assert response is not None and response.status == 403, path
        sign_out(page)

        sign_in(page, site, "hr")
        page.get_by_role("link", name="Grants", exact=True).click()
        page.get_by_role("link", name=f"Revoke the grant to ofsted for {purpose}").click()
        check(page, "revoke a grant", shots)
        page.get_by_role("button", name="Revoke the grant").click()  # no reason
        assert page.locator(".govuk-error-summary").get_by_role("link").get_attribute("href") == "#reason"
        check(page, "revoke a grant with errors", shots)
        page.get_by_label("Why the grant ends now").fill("the thematic inspection has finished")
        page.get_by_role("button", name="Revoke the grant").click()
        assert "is revoked" in html(page)
        assert "Revoked" in page.locator("tr", has_text=purpose).inner_text()
        sign_out(page)

        sign_in(page, site, "ofsted")
        page.get_by_role("link", name="Grants", exact=True).click()
        assert "Revoked" in page.locator("tr", has_text=purpose).inner_text()
    finally:
        ctx.close()


def test_hr_adds_an_account_issues_a_token_and_disabling_it_ends_the_session(browser, site: Site,  # noqa: ANN001
                                                                           screenshots) -> None:  # noqa: ANN001
    shots = screenshots if site.backend == "sqlite" else None
    hr_ctx, user_ctx = _context(browser, site), _context(browser, site)
    hr, user = hr_ctx.new_page(), user_ctx.new_page()
    username = f"sam.cover.{uuid.uuid4().hex[:4]}"
    try:
        sign_in(hr, site, "hr")
        hr.get_by_role("link", name="Accounts", exact=True).click()
        assert "ofsted" in hr.locator("table").inner_text()
        check(hr, "accounts", shots)
        hr.get_by_role("button", name="Add an account").click()
        check(hr, "add an account", shots)
        hr.get_by_role("button", name="Add the account").click()
        hrefs = [a.get_attribute("href") for a in hr.locator(".govuk-error-summary").get_by_role("link").all()]
        assert hrefs == ["#username", "#role"], hrefs
        check(hr, "add an account with errors", shots)
        hr.get_by_label("Username").fill(username)
        hr.get_by_label("Role").select_option("supervisee")
        grace = hr.locator("#worker_id option", has_text="Grace Lindqvist").get_attribute("value")
        hr.get_by_label("Member of staff").select_option(grace)
        hr.get_by_role("button", name="Add the account").click()
        assert f"Account {username} added" in html(hr)
        check(hr, "an account", shots)

        hr.get_by_role("button", name="Issue an access token").click()
        token = hr.locator("#token").inner_text().strip()
        assert token.startswith("svl_") and "only time the token is shown" in html(hr)
        check(hr, "access token issued", shots)  # test-output/ only: never in docs/screenshots
        hr.goto(site.url(f"/accounts/{username}"))
        assert token not in html(hr)  # shown once: never again

        user.goto(site.url("/sign-in"))
        user.get_by_label("Access token").fill(token)
        user.get_by_role("button", name="Sign in", exact=True).click()
        user.wait_for_url(site.url("/records"))
        assert "Grace Lindqvist" in html(user)
        assert httpx.get(site.url("/api/v1/me"), headers={"Authorization": f"Bearer {token}"}).status_code == 200

        hr.get_by_role("button", name=f"Disable {username}").click()
        assert f"Account {username} is disabled" in html(hr) and "Disabled since" in html(hr)
        hr.get_by_role("link", name="Accounts", exact=True).click()
        assert "Disabled" in hr.locator("tr", has_text=username).inner_text()

        response = user.goto(site.url("/records"))  # the open session ends with the account
        assert response is not None and user.url == site.url("/sign-in")
        assert "Signed in as" not in html(user)
        assert httpx.get(site.url("/api/v1/me"), headers={"Authorization": f"Bearer {token}"}).status_code == 401
        user.get_by_label("Access token").fill(token)
        user.get_by_role("button", name="Sign in", exact=True).click()
        assert "Enter a valid access token" in html(user)
    finally:
        hr_ctx.close()
        user_ctx.close()

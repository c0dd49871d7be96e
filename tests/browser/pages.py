"""What the browser tests do on a page: sign in and out as a demo user, reach a control with the keyboard alone,
check a page with axe-core at WCAG 2.2 AA (0 violations) and keep its screenshots at 320 px and 1280 px wide."""

import io
import os
from pathlib import Path
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe
from PIL import Image

from tests.browser.conftest import Site, slug

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE = Axe()
WIDTHS = (320, 1280)
CHECKED: dict[str, int] = {}  # page name -> violations, for the run's summary
# The README's tour of the interface: these pages, as the first 1280 x 900 px a visitor sees, written to the
# folder SVL_TOUR_SCREENSHOTS names (docs/screenshots in the README's command).
TOUR = {"sign in": "01-sign-in", "records (supervisor)": "02-my-records", "record (shared, supervisee)":
        "03-a-record-to-sign", "draft form": "04-drafting-a-record", "supervision due (manager)":
        "05-supervision-due", "history": "06-a-records-history", "grant access": "07-grant-access",
        "the integrity ledger": "08-the-integrity-ledger",
        "practice after a step down": "09-a-workers-practice"}
TOUR_COLOURS = 64  # GOV.UK's palette is small: a 64-colour PNG looks the same at a quarter of the size


def html(page) -> str:  # noqa: ANN001
    """The page's HTML once its document has loaded. A click that starts a navigation returns when the new document
    is committed, before it is parsed: its content then can still be empty (seen on a loaded CI machine)."""
    page.wait_for_load_state("load")
    return page.content()


def sign_in(page, site: Site, username: str) -> None:  # noqa: ANN001
    page.goto(site.url("/sign-in"))
    page.click(f'button[data-username="{username}"]')
    page.wait_for_url(site.url("/records"))


def sign_out(page) -> None:  # noqa: ANN001
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signed-out")


def check(page, name: str, folder: Path | None) -> None:  # noqa: ANN001
    """axe-core on the page as it is now (0 violations at WCAG 2.2 AA), then its screenshots.
    `folder` None: a run with JavaScript off, where axe cannot run in the page."""
    if folder is None:
        return
    results = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]})
    CHECKED[name] = results.violations_count
    with (folder.parent / "axe-pages.tsv").open("a") as listing:  # which page (route) each check was on
        listing.write(f"{name}\t{urlsplit(page.url).path}\t{results.violations_count}\n")
    assert results.violations_count == 0, f"{name}: {results.generate_report()}"
    size = page.viewport_size or {"width": 1280, "height": 900}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{slug(name)}-{width}.png"), full_page=True)
        if width == 1280:
            _tour(page, name)
    page.set_viewport_size(size)


def _tour(page, name: str) -> None:  # noqa: ANN001
    folder = os.environ.get("SVL_TOUR_SCREENSHOTS")
    if not folder or name not in TOUR:
        return
    page.evaluate("window.scrollTo(0, 0)")  # the top of the page, as a visitor first sees it
    image = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("RGB")
    image.quantize(colors=TOUR_COLOURS).save(Path(folder) / f"{TOUR[name]}.png", optimize=True)


def keyboard_to(page, name: str) -> None:  # noqa: ANN001
    """Tab until the control called `name` has the focus (as a keyboard user would), then press Enter."""
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => (document.activeElement && document.activeElement.innerText || '').trim()")
        if focused == name:
            page.keyboard.press("Enter")
            return
    raise AssertionError(f"could not reach {name!r} with the Tab key")

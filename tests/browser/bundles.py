"""Checking what the web interface hands out as an outsider would: a bundle file, or the files attached inside
a PDF, through svl-verify's own command line (infrastructure/svl_verify.py `main`) with the verifier key the
organisation published (SVL_CHECKPOINT_DIR/verifier.vkey)."""

import contextlib
import io
from pathlib import Path

from pypdf import PdfReader

from infrastructure.svl_verify import EXIT_VERIFIED, RESULT_VERIFIED, main
from tests.browser.conftest import Site


def published_key(site: Site) -> Path:
    return Path(site.env["SVL_CHECKPOINT_DIR"]) / "verifier.vkey"


def svl_verify(site: Site, bundle: Path) -> str:
    """`svl-verify BUNDLE --key verifier.vkey`: its report, asserted VERIFIED (exit 0, with the published key)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main([str(bundle), "--key", str(published_key(site))])
    report = printed.getvalue()
    assert code == EXIT_VERIFIED and report.rstrip().endswith(RESULT_VERIFIED), report
    return report


def attachments(pdf: bytes, folder: Path) -> dict[str, Path]:
    """The files attached inside a PDF, written out as a PDF reader's "save attachment" would."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, contents in PdfReader(io.BytesIO(pdf)).attachments.items():
        assert len(contents) == 1, name
        written[name] = folder / name
        written[name].write_bytes(contents[0])
    return written

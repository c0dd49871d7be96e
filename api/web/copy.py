"""A signed copy of one record as a PDF (fpdf2): its content, both signatures with their dates, the fingerprint
they signed, amendments, areas of disagreement and addenda; the record's ledger bundle attached inside the PDF,
and how anyone can take it out and check it with svl-verify."""

import json
from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

# A Unicode font from the system if there is one (Debian: fonts-dejavu-core); else the PDF core font, which
# holds Latin-1 only, so other characters are shown as '?'.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)


def bundle_name(record_id: str) -> str:
    return f"bundle-{record_id}.json"


def signed_copy(view: dict, sections: list[tuple[str, str]], other_text: str, name: Callable[[str], str],
                origin: str, bundle: dict) -> bytes:
    pdf = RecordPdf(f"Supervision record {view['record_id']}")
    attached = bundle_name(view["record_id"])
    pdf.attach_json(attached, bundle, "The record's ledger bundle: check it with svl-verify")
    pdf.add_page()
    pdf.heading("Supervision record", 18)
    pdf.line_of(f"Record {view['record_id']}, version {view['content_version']} of its content")
    pdf.line_of(f"Supervisee: {view['supervisee']['name']}    Supervisor: {view['supervisor']['name']}")
    pdf.line_of(f"State: {view['state'].replace('_', ' ')}")
    content = view["content"]
    pdf.heading("The session")
    pdf.field("Date", content["session_date"])
    pdf.field("Attendees", ", ".join(content["attendees"]))
    if content.get("agenda"):
        pdf.field("Agenda", "; ".join(content["agenda"]))
    if other_text:
        pdf.field("Discussion", other_text)
    for title, text in sections:
        pdf.field(title, text)
    for n, a in enumerate(content.get("actions", []), start=1):
        pdf.field(f"Action {n}", f"{a['description']} (owner: {a['owner']}; due {a['due']})")
    for c in content.get("case_discussions", []):
        pdf.field(f"Case {c['case_reference']}", " ".join(p for p in (c.get("summary"), c.get("decision") and
                                                                    f"Decision: {c['decision']}") if p))
    pdf.heading("Signatures")
    if not view["signatures"]:
        pdf.line_of("Not signed yet.")
    for s in view["signatures"]:
        pdf.field(f"Signed by the {s['role']}", f"{name(s['signer'])} on {s['signed_at']} "
                                                f"(content version {s['content_version']})")
    pdf.heading("Fingerprint")
    pdf.line_of("Each signature covers the SHA-256 of this exact version of the record:")
    pdf.mono(view["content_sha256"])
    amendments = [a for a in view["amendments"] if a.get("outcome") != "declined"]
    if amendments or view["open_amendment"]:
        pdf.heading("Amendments requested by the supervisee")
        for a in amendments:
            pdf.field(f"Requested {a['requested_at']} ({a.get('outcome', 'open')})", a["text"])
        if view["open_amendment"]:
            pdf.field(f"Requested {view['open_amendment']['requested_at']} (open)", view["open_amendment"]["text"])
    pdf.heading("Areas of disagreement")
    if not view["areas_of_disagreement"]:
        pdf.line_of("None recorded.")
    for d in view["areas_of_disagreement"]:
        pdf.field("The supervisee asked", d["text"])
        pdf.field("The supervisor declined, because", d.get("rationale", ""))
    if view["addenda"]:
        pdf.heading("Addenda")
        for a in view["addenda"]:
            signed = "; ".join(f"{s['role']} {name(s['signer'])} on {s['signed_at']}" for s in a["signatures"])
            pdf.field(f"Addendum {a['number']}: {a['reason']}", f"{a['text']}\nSigned: {signed}\nSHA-256 {a['sha256']}")
    pdf.heading("How to check this copy")
    pdf.line_of(
        "This copy is for keeping and printing. The record itself is kept in the Supervision Ledger, whose "
        f"integrity ledger ({origin}) holds every change to it. This PDF carries the proof: the record's ledger "
        f"bundle is attached to it as the file {attached} (its events as stored, still sealed, their places in the "
        f"ledger and the checkpoint the organisation signed, of {bundle_size(bundle)} events).")
    pdf.line_of("To check it:")
    pdf.line_of("1. Take the attached file out of the PDF: in a PDF reader, open the attachments panel (the "
                "paperclip) and save it; or on the command line, one of:")
    pdf.mono(f"pdfdetach -saveall supervision-record-{view['record_id']}.pdf")
    pdf.mono(f"qpdf --show-attachment={attached} supervision-record-{view['record_id']}.pdf > {attached}")
    pdf.line_of("2. Get the organisation's verifier key from the organisation itself (it publishes it as "
                "verifier.vkey), not from this PDF or the bundle.")
    pdf.line_of("3. Run svl-verify (one Python file, infrastructure/svl_verify.py, which needs only Python and the "
                "cryptography package) with that key:")
    pdf.mono(f"svl-verify {attached} --key verifier.vkey")
    pdf.line_of("Its last line is RESULT: VERIFIED when every check passed with your key. The bundle proves the "
                "record's history in the ledger; the SHA-256 above is the fingerprint both parties signed.")
    return bytes(pdf.output())


def bundle_size(bundle: dict) -> str:
    lines = str(bundle.get("checkpoint", "")).splitlines()
    return lines[1] if len(lines) > 1 else "?"


class RecordPdf(FPDF):
    """A4 pages in the service's plain style: headings, labelled fields, fingerprints in a fixed-width font."""

    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.page_title = title
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(True, 18)
        self.family, self.unicode = "helvetica", False
        regular, bold, mono = (_font("DejaVuSans.ttf"), _font("DejaVuSans-Bold.ttf"), _font("DejaVuSansMono.ttf"))
        if regular and bold and mono:
            self.add_font("body", "", str(regular))
            self.add_font("body", "B", str(bold))
            self.add_font("mono", "", str(mono))
            self.family, self.unicode = "body", True
        self.set_title(title)
        self.set_font(self.family, "", 10)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.cell(0, 6, self._text(f"{self.page_title} - page {self.page_no()}"), align="C")

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(3)
        self.set_font(self.family, "B", size)
        self.multi_cell(0, size * 0.5, self._text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 10)
        self.ln(1)

    def field(self, label: str, value: str) -> None:
        self.set_font(self.family, "B", 10)
        self.multi_cell(0, 5, self._text(label), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 10)
        self.multi_cell(0, 5, self._text(value or "-"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def line_of(self, text: str) -> None:
        self.multi_cell(0, 5, self._text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def mono(self, text: str) -> None:
        self.set_font("mono" if self.unicode else "courier", "", 10)
        self.multi_cell(0, 5, self._text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 10)

    def attach_json(self, name: str, document: dict, description: str) -> None:
        """A file inside the PDF (a PDF reader lists it under attachments; pdfdetach and qpdf extract it)."""
        self.embed_file(bytes=json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8") + b"\n",
                        basename=name, mime_type="application/json", desc=description)

    def _text(self, text: str) -> str:
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")


def _font(filename: str) -> Path | None:
    for folder in FONT_DIRS:
        if (folder / filename).is_file():
            return folder / filename
    return None

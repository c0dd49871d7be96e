"""The subject access pack as one PDF: everything the export holds about the person, readable and printable,
with the export's JSON and every record's ledger bundle attached inside it, and how to check them."""

from api.record_history import render_content
from api.subject_access import SubjectAccessExport
from api.web.copy import RecordPdf, bundle_name


def sar_pack(export: SubjectAccessExport) -> bytes:
    document = export.document
    worker, request = document["worker"], document["subject_access_request"]
    pdf = RecordPdf(f"Subject access: {worker['name']}")
    pdf.attach_json("subject-access.json", document, "Everything in this pack, as data")
    for record_id, bundle in export.bundles.items():
        pdf.attach_json(bundle_name(record_id), bundle, "A record's ledger bundle: check it with svl-verify")
    pdf.add_page()
    pdf.heading(f"Supervision records held about {worker['name']}", 18)
    pdf.line_of(f"Request received {request['received_on']}; respond by {request['respond_by']}"
                f"{' (extended)' if request['extended'] else ''}. Prepared by {request['prepared_by']} at "
                f"{request['prepared_at']}.")
    pdf.field("Role", f"{worker['role']} ({worker['category'].replace('_', ' ')}), started {worker['start_date']}")
    pdf.field("State", worker["state"] + (f", left {worker['leaving_date']}" if worker["leaving_date"] else ""))
    pdf.field("Current supervisor", worker["current_supervisor"] or "None")
    for previous in worker["previous_supervisors"]:
        pdf.field("Previous supervisor", previous.get("name", ""))
    for record in document["supervision_records"]:
        pdf.heading(f"Session of {record['content']['session_date']} ({record['state'].replace('_', ' ')})")
        pdf.line_of("\n".join(render_content(record["content"])))
        for s in record["signatures"]:
            pdf.field(f"Signed by the {s['role']}", f"{s['signed_at']} (SHA-256 {s['content_sha256']})")
        for d in record["areas_of_disagreement"]:
            pdf.field("Area of disagreement", f"{d['text']}\nThe supervisor's rationale: {d.get('rationale', '')}")
        pdf.field("History", "\n".join(f"{h['at']}  {h['actor_name']}: {h['summary']}" for h in record["history"]))
        pdf.field("Its proof", f"the attached file {bundle_name(record['record_id'])}")
    for case in document["case_supervision_records"]:
        pdf.heading(f"Case supervision of {case['discussed_on']}, case {case['case_reference']}")
        pdf.field("Supervisor", case["supervisor"])
        pdf.field("Discussion", case["discussion"])
        pdf.field("Decisions", case["decisions"])
        on = case["on_childs_record"]
        pdf.field("On the child's record", f"{on['reference']}, {on['recorded_on']}" if on else "not yet confirmed")
        pdf.field("Its proof", f"the attached file {bundle_name(case['record_id'])}")
    pdf.heading("Who accessed your file, and why")
    entries = document["who_accessed_this_file"]
    if not entries:
        pdf.line_of("No one.")
    for a in entries:
        pdf.line_of(f"{a.get('at', '')}  {a.get('reader_username', '')}: {str(a.get('action', '')).replace('_', ' ')}"
                    f" ({a.get('basis', '')}){'; purpose: ' + a['purpose'] if a.get('purpose') else ''}")
    proof = document["proof"]
    pdf.heading("How to check this pack")
    pdf.line_of(f"Attached to this PDF: subject-access.json (everything above, as data) and one ledger bundle per "
                f"record ({len(export.bundles)}). A bundle proves that {proof['proves']}. It does not prove "
                f"{proof['does_not_prove']}.")
    pdf.line_of("1. Take the attached files out of the PDF: in a PDF reader, open the attachments panel (the "
                "paperclip) and save them; or on the command line:")
    pdf.mono("pdfdetach -saveall subject-access.pdf")
    pdf.line_of("2. Get the organisation's verifier key from the organisation itself (it publishes it as "
                "verifier.vkey), not from this PDF.")
    pdf.line_of("3. Check each bundle with svl-verify (one Python file, infrastructure/svl_verify.py; it needs only "
                "Python and the cryptography package):")
    pdf.mono("svl-verify bundle-RECORD.json --key verifier.vkey")
    pdf.line_of("Its last line is RESULT: VERIFIED when every check passed with the key you gave.")
    return bytes(pdf.output())

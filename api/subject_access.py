"""Subject access requests: everything held about a person, as JSON and a readable page, with the
ledger bundles that prove each record complete and unaltered.

Every record is read through the same decide-log-serve path as any other read (`read_record_content`),
so a SAR export needs a live SAR grant and leaves an entry per record in the access log.
"""

import html
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from uuid import UUID

from sqlalchemy import select

from api.access_service import Via
from api.application import SupervisionApplication
from api.record_history import NameBook, record_history, record_view, render_content
from domain.authorisation import Role, decide_role
from domain.case_supervision_record import CaseSupervisionRecord
from domain.schedule_rules import sar_deadline
from infrastructure.users import Principal
from projections.schema import current_records


@dataclass(frozen=True)
class SubjectAccessExport:
    document: dict
    bundles: dict[str, dict]

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "bundles").mkdir(exist_ok=True)
        written = [directory / "subject-access.json", directory / "subject-access.html"]
        written[0].write_text(json.dumps(self.document, indent=2, default=str, ensure_ascii=False) + "\n")
        written[1].write_text(render_html(self.document), encoding="utf-8")
        for record_id, bundle in self.bundles.items():
            path = directory / "bundles" / f"{record_id}.json"
            path.write_text(json.dumps(bundle, indent=2) + "\n")
            written.append(path)
        return written


def subject_access_export(app: SupervisionApplication, who: Principal, worker_id: str, *, received_on: date,
                          extended: bool, via: Via) -> SubjectAccessExport:
    app.access.require(who, decide_role(who.reader, {Role.DPO}, "answer a subject access request"))
    file = app.access.open_worker_file(who, worker_id, via=via)  # authorised and logged, like every read
    worker = file["worker"]
    names = NameBook(app)
    records, bundles = [], {}
    app.integrity.checkpoint()  # so every event exported so far is covered by a signed checkpoint
    for record_id in _record_ids(app, str(worker.id)):
        record, _ = app.access.read_record_content(who, record_id, action="sar_export", via=via)
        records.append({**record_view(record, names),
                        "history": [e.to_dict() for e in record_history(app, record.id)]})
        bundles[str(record.id)] = app.integrity.export_bundle(UUID(str(record.id)))
    case_records = []
    for record_id in app.case_records.case_record_ids_of(str(worker.id)):  # a class of their own where the pack keeps one
        case = app.case_records.read_case_record(who, record_id, via=via, action="sar_export")
        case_records.append(_case_record_view(case, names))
        bundles[str(case.id)] = app.integrity.export_bundle(UUID(str(case.id)))
    # the response period is the one in force when the request was received
    pack = app.policy.compliance_pack(on=received_on)
    document = {
        "subject_access_request": {
            "worker_id": str(worker.id), "received_on": received_on.isoformat(),
            "respond_by": sar_deadline(pack, received_on, extended).isoformat(), "extended": extended,
            "prepared_by": who.username, "prepared_at": app.clock().isoformat(),
            "rule": pack.sar_response.source or pack.sar_response.note,
        },
        "worker": {
            "name": worker.name, "role": worker.role, "category": worker.category,
            "start_date": worker.start_date.isoformat(), "organisation": worker.organisation,
            "state": worker.state, "leaving_date": _iso(worker.leaving_date),
            "destruction_date": _iso(worker.destruction_date),
            "current_supervisor": names.name(worker.supervisor_id) if worker.supervisor_id else None,
            "previous_supervisors": [{**p, "name": names.name(p["supervisor_id"])} for p in worker.previous_supervisors],
        },
        "supervision_records": records,
        "case_supervision_records": case_records,
        "sessions": app.scheduling.sessions_of(str(worker.id)),
        "agreements": app.scheduling.agreements_of(str(worker.id)),
        "legal_holds": app.retention.holds(str(worker.id)),
        "who_accessed_this_file": app.access.access_log_for_worker(str(worker.id)),
        "proof": {
            "verifier_key": app.integrity.verifier_key(),
            "bundles": sorted(f"bundles/{rid}.json" for rid in bundles),
            "how_to_check": "svl-verify bundles/<record>.json --key '<the organisation's published verifier key>'",
            "proves": "each record's (and each case supervision record's) every version is in the organisation's "
                      "signed log exactly as stored, with no version missing",
            "does_not_prove": "that no other record about you exists: ask the organisation to confirm completeness",
        },
    }
    return SubjectAccessExport(document, bundles)


def _case_record_view(case: CaseSupervisionRecord, names: NameBook) -> dict:
    on = case.on_childs_record
    return {"record_id": str(case.id), "supervisor": names.name(case.supervisor_id),
            "discussed_on": case.discussed_on.isoformat(), "case_reference": case.case_reference,
            "discussion": case.discussion, "decisions": case.decisions,
            "decision_due": _iso(case.decision_due),
            "on_childs_record": {"reference": on["reference"], "recorded_on": _iso(on["recorded_on"])} if on else None}


def _record_ids(app: SupervisionApplication, worker_id: str) -> list[str]:
    app.read_models.refresh()
    with app.storage.reads.connect() as conn:
        return list(conn.execute(select(current_records.c.record_id)
                                 .where(current_records.c.supervisee_id == worker_id)
                                 .order_by(current_records.c.session_date)).scalars())


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def render_html(document: dict) -> str:
    """A plain page the person can read and print."""
    e = html.escape
    worker, request = document["worker"], document["subject_access_request"]
    parts = [f"<!doctype html><meta charset='utf-8'><title>Subject access: {e(worker['name'])}</title>",
             "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em}"
             "h2{border-bottom:1px solid #ccc}table{border-collapse:collapse}td,th{border:1px solid #ddd;"
             "padding:2px 6px;text-align:left}.meta{color:#555}</style>",
             f"<h1>Supervision records held about {e(worker['name'])}</h1>",
             f"<p class=meta>Request received {e(request['received_on'])}; respond by {e(request['respond_by'])}. "
             f"Prepared by {e(request['prepared_by'])} at {e(request['prepared_at'])}.</p>",
             f"<p>{e(worker['role'])} ({e(worker['category'])}), started {e(worker['start_date'])}; "
             f"state: {e(worker['state'])}.</p>"]
    for record in document["supervision_records"]:
        parts.append(f"<h2>Session of {e(record['content']['session_date'])} — {e(record['state'])}</h2>")
        parts.append("<pre>" + e("\n".join(render_content(record["content"]))) + "</pre>")
        for s in record["signatures"]:
            parts.append(f"<p>Signed by the {e(s['role'])} at {e(s['signed_at'])} "
                         f"(SHA-256 {e(s['content_sha256'])}).</p>")
        for d in record["areas_of_disagreement"]:
            parts.append(f"<p>Area of disagreement: {e(d['text'])} — supervisor's rationale: {e(d['rationale'])}</p>")
        parts.append("<table><tr><th>when</th><th>who</th><th>what</th></tr>" + "".join(
            f"<tr><td>{e(h['at'])}</td><td>{e(h['actor_name'])}</td><td>{e(h['summary'])}</td></tr>"
            for h in record["history"]) + "</table>")
    for case in document["case_supervision_records"]:
        on = case["on_childs_record"]
        parts.append(f"<h2>Case supervision of {e(case['discussed_on'])} — case {e(case['case_reference'])}</h2>")
        parts.append(f"<p>With {e(case['supervisor'])}.</p><pre>{e(case['discussion'])}\n\nDecisions: "
                     f"{e(case['decisions'])}</pre>")
        parts.append(f"<p>On the child's record: {e(on['reference'])}, {e(on['recorded_on'])}.</p>" if on else
                     "<p>Not yet confirmed on the child's record.</p>")
    parts.append("<h2>Who accessed your file, and why</h2><table><tr><th>when</th><th>who</th><th>what</th>"
                 "<th>basis</th><th>purpose</th></tr>" + "".join(
                     f"<tr><td>{e(str(a.get('at', '')))}</td><td>{e(str(a.get('reader_username', '')))}</td>"
                     f"<td>{e(str(a.get('action', '')))}</td><td>{e(str(a.get('basis', '')))}</td>"
                     f"<td>{e(str(a.get('purpose', '') or ''))}</td></tr>"
                     for a in document["who_accessed_this_file"]) + "</table>")
    proof = document["proof"]
    parts.append(f"<h2>Proof</h2><p>{e(proof['proves'])}. It does not prove {e(proof['does_not_prove'])}. "
                 f"Check with: <code>{e(proof['how_to_check'])}</code></p>")
    return "\n".join(parts) + "\n"

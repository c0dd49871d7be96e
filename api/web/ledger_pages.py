"""The integrity ledger in plain words, for administrators: the latest signed checkpoint and whose key signed it,
a full verification on request (the same code path as `svl verify`, timed), one record's bundle to download
(the same file as `svl export-bundle`), the published verifier key and checkpoint, and how someone outside the
organisation checks a bundle with `svl-verify`. Who may do each is decided by api/verification_service.py."""

import json
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api.errors import NotFound
import api.web.commands as commands
from api.web.record_form import FormErrors
from api.web.site import checked_form, page, redirect, signed_in, web_of
from infrastructure.ledger import b64
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)


@router.get("/ledger")
def ledger(request: Request, who: Principal = Depends(signed_in)) -> Response:
    return _ledger(request, who, FormErrors())


@router.post("/ledger/verify")
def verify(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
           ) -> Response:
    commands.verify_ledger(web_of(request).application, who)  # kept as the last verification, shown on /ledger
    return redirect("/ledger#verification")


@router.post("/ledger/bundle")
def bundle(request: Request, who: Principal = Depends(signed_in), form: dict[str, str] = Depends(checked_form)
           ) -> Response:
    given = form.get("record_id", "").strip()
    try:
        record_id = UUID(given)
    except ValueError:
        message = "Enter the record's id" if not given else "Enter the record's full id, as in its address"
        return _ledger(request, who, FormErrors({"record_id": message}), 422, given)
    found = commands.record_bundle(web_of(request).application, who, record_id)
    return Response(json.dumps(found, indent=2, ensure_ascii=False) + "\n", media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="bundle-{record_id}.json"'})


@router.get("/ledger/verifier.vkey")
def verifier_key(request: Request, who: Principal = Depends(signed_in)) -> Response:
    latest = commands.latest_checkpoint(web_of(request).application, who)
    if latest is None or latest.verifier_key is None:
        raise NotFound("this server does not hold the signing key: the verifier key is published with the "
                       "checkpoints (verifier.vkey in SVL_CHECKPOINT_DIR)")
    return PlainTextResponse(latest.verifier_key + "\n", headers={
        "Content-Disposition": 'attachment; filename="verifier.vkey"'})


@router.get("/ledger/checkpoint")
def checkpoint(request: Request, who: Principal = Depends(signed_in)) -> Response:
    latest = commands.latest_checkpoint(web_of(request).application, who)
    if latest is None:
        raise NotFound("no checkpoint has been signed yet")
    return PlainTextResponse(latest.note, headers={
        "Content-Disposition": f'attachment; filename="{latest.checkpoint.tree_size}.checkpoint"'})


def _ledger(request: Request, who: Principal, errors: FormErrors, status: int = 200, record_id: str = ""
            ) -> Response:
    app = web_of(request).application
    latest = commands.latest_checkpoint(app, who)
    last = commands.last_verification(app)
    unsigned = None
    if last is not None:
        unsigned = max(0, last.report.leaves - (last.report.latest_checkpoint or 0))
    return page(request, "ledger.html", status, who=who, latest=latest, last=last, unsigned=unsigned,
                root=b64(latest.checkpoint.root_hash) if latest else "", errors=errors, record_id=record_id,
                origin=app.storage.settings.organisation_origin)

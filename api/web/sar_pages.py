"""The DPO's subject access pack as a PDF: the same export as POST /api/v1/sar/{worker_id} (a live SAR grant
covering the person's file is needed, and every record read is logged before the PDF is made)."""

from datetime import date
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

import api.web.commands as commands
from api.web.site import signed_in, via, web_of
from domain.errors import DomainError
from infrastructure.users import Principal

router = APIRouter(include_in_schema=False)


@router.get("/sar/{worker_id}/pack.pdf")
def sar_pack_pdf(worker_id: UUID, request: Request, who: Principal = Depends(signed_in), received_on: str = ""
                 ) -> Response:
    from api.web.sar_pack import sar_pack  # fpdf2 takes seconds to import: only when a pack is asked for

    app = web_of(request).application
    try:
        received = date.fromisoformat(received_on) if received_on else app.clock().date()
    except ValueError:
        raise DomainError("the date the request was received must be a real date, like 2026-11-30") from None
    export = commands.subject_access(app, who, via(request, "subject access request"), worker_id, received)
    return Response(sar_pack(export), media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="subject-access-{worker_id}.pdf"'})

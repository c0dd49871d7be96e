"""The witness's HTTP interface (C2SP tlog-witness): `POST /add-checkpoint`, and `GET /` saying who it is.

The submission prefix and the monitoring prefix are both the server's root. Answers carry exactly the
status codes and content types the spec prescribes (200 with cosignature lines; 409 with the size it
holds as `text/x.tlog.size`, or for a second root at one size; 400, 403, 404, 422).
"""

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from infrastructure.witness import MAX_REQUEST_BYTES, TEXT, Witness


def create_witness_app(witness: Witness) -> FastAPI:
    app = FastAPI(title="Supervision Ledger witness", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/add-checkpoint")
    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return _text(413, f"the request is larger than {MAX_REQUEST_BYTES} bytes\n", TEXT)
        # SQLite and Ed25519 block: off the event loop, one request at a time per state transaction.
        answer = await anyio.to_thread.run_sync(witness.add_checkpoint, bytes(body))
        return _text(answer.status, answer.body, answer.content_type)

    @app.get("/")
    def identity() -> JSONResponse:
        return JSONResponse({
            "witness": witness.key.name, "verifier_key": witness.key.vkey,
            "logs": [{"origin": origin, "log_key": str(key),
                      "cosigned_size": held.tree_size if (held := witness.state.latest(origin)) else None}
                     for origin, key in sorted(witness.logs.items())],
        })

    return app


def _text(status: int, body: str, content_type: str) -> Response:
    # The content type is set as given: Starlette would add "; charset=utf-8" to text/x.tlog.size.
    return Response(body.encode("utf-8"), status_code=status, headers={"content-type": content_type})

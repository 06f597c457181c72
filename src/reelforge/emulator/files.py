"""The output-file route: the bytes behind every emulated provider's output URL, and its faults.

Output URLs have the shape ``/_emulator/files/{provider}/{request_id}/{name}`` (built by
:func:`reelforge.emulator.base.file_url`): the file is the media library's ``name``, and the
provider and job say whose output it is, so that fault rules for operation ``file`` hit the right
provider and the ledger names the job. ``/_emulator/files/{name}`` serves the same bytes with no
provider (only rules for any provider apply).

A fetch without a fault is not recorded (fetching outputs is not a vendor API call); a fetch a
fault fired on is, as a call record of operation ``file`` with the fault's kind:

- ``http_404``: 404 ``{"detail": "Not Found"}``, as a storage bucket answers for a missing key;
- ``http_500`` / ``http_503``: that status with a short body;
- ``truncated``: 200 with the whole file's ``Content-Length``, then the first half of the body,
  then the connection is closed (the client sees an incomplete body);
- ``short``: a complete 200 whose body (and ``Content-Length``) is the first half of the file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from reelforge.emulator.base import EmulatorContext
from reelforge.emulator.faults import FILE_OPERATION, FaultFamily, FaultKind
from reelforge.emulator.media import MediaFile

__all__ = ["serve_file"]

_NOT_FOUND = {"detail": "Not Found"}


async def serve_file(context: EmulatorContext, request: Request) -> Response:
    """The file named in ``request``'s path, or the fault armed for its provider's files."""
    params = request.path_params
    provider = str(params.get("provider", ""))
    found = context.media.get(params["name"])
    if found is None:
        return JSONResponse(_NOT_FOUND, status_code=404)
    fault = context.state.take_fault(provider, FILE_OPERATION, FaultFamily.FILE)
    if fault is None:
        return Response(found.data, media_type=found.content_type)
    response = _faulty(fault.kind, found)
    context.state.record_call(
        provider or "*",
        FILE_OPERATION,
        request.method,
        request.url.path,
        response.status_code,
        request_id=params.get("request_id"),
        fault=fault.kind.value,
    )
    return response


def _faulty(kind: FaultKind, found: MediaFile) -> Response:
    half = found.data[: len(found.data) // 2]
    if kind is FaultKind.TRUNCATED:
        return _Truncated(found.data, half, found.content_type)
    if kind is FaultKind.SHORT:
        return Response(half, media_type=found.content_type)
    status = {FaultKind.HTTP_500: 500, FaultKind.HTTP_503: 503}.get(kind, 404)
    if status == 404:
        return JSONResponse(_NOT_FOUND, status_code=404)
    return JSONResponse({"detail": f"HTTP {status}"}, status_code=status)


class _Truncated(Response):
    """Announces the whole file, sends ``sent`` (a part of it) and hangs up: the connection
    closes with the body incomplete, as when a download is cut off mid-way."""

    def __init__(self, whole: bytes, sent: bytes, media_type: str) -> None:
        super().__init__(whole, media_type=media_type)
        self.sent = sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        # more_body and no final message: the server closes the connection short of
        # Content-Length (uvicorn logs that the response was not completed).
        await send({"type": "http.response.body", "body": self.sent, "more_body": True})

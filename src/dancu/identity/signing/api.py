"""dancu's time-stamping authority over HTTP (RFC 3161), for systems that sign on their own."""

from __future__ import annotations

from asn1crypto import tsp
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dancu.identity.signing import pades
from dancu.web.deps import DbSession
from dancu.web.problems import PUBLIC_ERRORS, ApiError

router = APIRouter(prefix="/api/v1/pki", tags=["pki"], responses=PUBLIC_ERRORS)

REPLY_TYPE = "application/timestamp-reply"
_DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64}
MAX_QUERY_BYTES = 4096
TSA_REQUEST_INVALID = "pki.tsa_request_invalid"


def _parse(body: bytes) -> tsp.TimeStampReq:
    if not body or len(body) > MAX_QUERY_BYTES:
        raise ApiError(422, TSA_REQUEST_INVALID, f"send a DER-encoded RFC 3161 TimeStampReq of at most {MAX_QUERY_BYTES} bytes")
    try:
        request = tsp.TimeStampReq.load(body, strict=True)
        imprint = request["message_imprint"]
        algorithm = imprint["hash_algorithm"]["algorithm"].native
        digest = imprint["hashed_message"].native
        request.native  # noqa: B018 - asn1crypto parses lazily: malformed inner fields fail here
    except (ValueError, TypeError, KeyError, OverflowError) as exc:
        raise ApiError(422, TSA_REQUEST_INVALID, f"the body is not a DER-encoded RFC 3161 TimeStampReq ({exc})") from None
    if _DIGEST_SIZES.get(algorithm) != len(digest or b""):
        raise ApiError(422, TSA_REQUEST_INVALID, "the message imprint must be a SHA-256, SHA-384 or SHA-512 digest of its length")
    return request


async def _body(request: Request) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_QUERY_BYTES:
            break
    return body


# Clients send the DER query as application/timestamp-query; any content type is read as raw bytes.
# The OpenAPI document names octet-stream, which generic clients and the API fuzzer can produce.
@router.post("/tsa", summary="RFC 3161 timestamp (DER TimeStampReq in, TimeStampResp out)",
             response_class=Response, responses={200: {"content": {REPLY_TYPE: {}}}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def timestamp(request: Request, session: DbSession) -> Response:
    query = _parse(await _body(request))
    reply = await run_in_threadpool(lambda: pades.timestamper(session).request_tsa_response(query))
    return Response(reply.dump(), media_type=REPLY_TYPE)

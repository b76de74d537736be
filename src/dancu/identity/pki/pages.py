"""Public PKI endpoints (no login): the CA certificate and the current CRL."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter
from fastapi.responses import Response

from dancu.identity.pki import services
from dancu.web.deps import DbSession

router = APIRouter(prefix="/pki", tags=["pki"])

PEM = "application/x-pem-file"
CRL = "application/pkix-crl"  # RFC 5280 section 4.2.1.13


@router.get("/ca.pem", summary="The dancu country CA certificate (PEM)", response_class=Response,
            responses={200: {"content": {PEM: {"schema": {"type": "string"}}}}})
def ca_pem(session: DbSession) -> Response:
    pem = services.country_ca(session).public_bytes(serialization.Encoding.PEM)
    return Response(pem, media_type=PEM,
                    headers={"Content-Disposition": 'inline; filename="dancu-ca.pem"',
                             "Cache-Control": "public, max-age=3600"})


@router.get("/crl.der", summary="The current certificate revocation list (DER)", response_class=Response,
            responses={200: {"content": {CRL: {"schema": {"type": "string", "format": "binary"}}}}})
def crl_der(session: DbSession) -> Response:
    der = services.current_crl(session).public_bytes(serialization.Encoding.DER)
    # Short cache: a revocation must reach verifiers quickly.
    return Response(der, media_type=CRL,
                    headers={"Content-Disposition": 'inline; filename="dancu.crl"',
                             "Cache-Control": "public, max-age=60"})

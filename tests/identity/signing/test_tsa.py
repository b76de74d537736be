"""dancu's RFC 3161 time-stamping authority over HTTP: tokens validate under the dancu CA; bad queries get 422."""

from __future__ import annotations

import hashlib

import pytest
from asn1crypto import algos, tsp
from fastapi.testclient import TestClient
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

from dancu import db
from dancu.identity.signing import pades
from dancu.web.app import create_app


@pytest.fixture
def client(database_url):
    with TestClient(create_app(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _query(digest: bytes, algorithm: str = "sha256") -> bytes:
    return tsp.TimeStampReq({
        "version": 1,
        "message_imprint": {"hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                            "hashed_message": digest},
        "nonce": 20261129,
        "cert_req": True,
    }).dump()


def test_a_timestamp_token_validates_under_the_dancu_ca(client):
    digest = hashlib.sha256(b"Ho so so 2026/123").digest()
    reply = client.post("/api/v1/pki/tsa", content=_query(digest),
                        headers={"content-type": "application/timestamp-query"})
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/timestamp-reply"
    response = tsp.TimeStampResp.load(reply.content)
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["nonce"].native == 20261129
    with db.new_session() as session:
        context = pades.validation_context(session)
    # pades._run: this test process may already run an event loop (Playwright's sync API)
    status = pades._run(validate_tst_signed_data(signed_data, context, expected_tst_imprint=lambda _algorithm: digest))
    assert status["intact"] and status["valid"] and status["trust_problem_indic"] is None
    assert "Time-Stamping" in status["signing_cert"].subject.human_friendly


@pytest.mark.parametrize("body", [
    b"",
    b"not der at all",
    b"\x30\x03\x02\x01\x01",                              # a SEQUENCE, but not a TimeStampReq
    _query(hashlib.sha1(b"x").digest(), "sha1"),           # SHA-1 is refused
    _query(b"\x00" * 5),                                   # digest length does not match SHA-256
])
def test_bad_queries_get_a_clear_422(client, body):
    reply = client.post("/api/v1/pki/tsa", content=body, headers={"content-type": "application/timestamp-query"})
    assert reply.status_code == 422 and reply.json()["detail"]

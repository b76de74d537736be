"""State seal (PAdES B-LT), citizens' certificates and signatures, verification verdicts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import random

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_helpers import LEVEL2_PIN, principal_for
from signing_pdfs import one_page_pdf

from dancu import crypto, db, migrate
from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit import services as audit
from dancu.identity.pki import services as pki
from dancu.identity.signing import services as signing
from dancu.identity.signing.pades import verify_data

AUDITOR = Actor(username="kiemtra", role=Role.AUDITOR)


def _flip(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def test_state_seal_is_pades_b_lt_with_a_timestamp(session):
    pdf = one_page_pdf()
    signed = signing.sign_pdf_as_state(session, pdf, "Kết quả giải quyết thủ tục hành chính")
    assert signed.startswith(pdf[:8]) and len(signed) > len(pdf)
    reader = PdfFileReader(io.BytesIO(signed))
    sig = reader.embedded_signatures[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    # B-LT: validation data (certificates and the CRL) in the document security store.
    dss = reader.root["/DSS"]
    assert len(dss["/Certs"]) >= 2 and len(dss["/CRLs"]) >= 1

    result = signing.verify_pdf(session, signed)
    assert result.valid and result.verdict == "valid"
    report = result.signatures[0]
    assert report.timestamped and report.intact and report.trusted and not report.revoked
    assert "dancu State Seal" in report.signer
    assert abs(report.signed_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


def test_a_flipped_byte_is_detected(session):
    signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả")
    result = signing.verify_pdf(session, _flip(signed, b"Ket qua"))
    assert not result.valid and result.verdict == "altered"


def test_a_revoked_signer_fails(session):
    signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả")
    assert signing.verify_pdf(session, signed).valid
    _, cert = pki.state_signer(session)
    pki.revoke(session, cert.serial_number, "key_compromise")
    result = signing.verify_pdf(session, signed)
    assert result.verdict == "revoked"
    assert result.signatures[0].revoked and result.signatures[0].revoked_at is not None


@pytest.mark.parametrize(("data", "verdict"), [
    (b"hello, not a pdf", "not-pdf"),
    (b"", "not-pdf"),
    (b"%PDF-1.7\n garbage without any structure", "damaged"),
])
def test_bad_input_gets_a_verdict_not_an_exception(session, data, verdict):
    assert signing.verify_pdf(session, data).verdict == verdict


def test_an_unsigned_pdf_is_reported_unsigned(session):
    assert signing.verify_pdf(session, one_page_pdf()).verdict == "unsigned"


def test_a_signature_from_another_ca_is_untrusted(session, tmp_path, monkeypatch):
    signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả")
    session.commit()
    # Another dancu installation: another master key, another CA.
    monkeypatch.setenv("DANCU_DATABASE_URL", f"sqlite:///{tmp_path / 'other.sqlite3'}")
    monkeypatch.setenv("DANCU_KEY_FILE", str(crypto.ensure_master_key(tmp_path / "other.key")))
    db.reset_caches()
    crypto.reset_key_cache()
    migrate.upgrade()
    with db.new_session() as other:
        assert signing.verify_pdf(other, signed).verdict == "untrusted"


def test_citizen_obtains_a_certificate_bound_to_the_eid(session, citizens):
    an = principal_for(session, citizens["an"])
    assert signing.citizen_certificate(session, an) is None
    info = signing.issue_citizen_certificate(session, an)
    assert info.profile == "citizen-signing" and info.purpose == f"citizen:eid-account:{citizens['an']}"
    cert = pki.certificate(session, info.serial)
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Nguyễn Văn An"
    identifier = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    # Certificates are public: they carry an identifier derived from the PIN, never the PIN.
    assert identifier.startswith("DANCU-") and LEVEL2_PIN.encode() not in cert.public_bytes(Encoding.DER)
    cert.verify_directly_issued_by(pki.country_ca(session))
    # The name came from the population database, and the read is in the access log with its purpose.
    reads = audit.entries_for_subject(session, AUDITOR, "person", str(an.person_id), 10, 0)
    assert any("signing certificate" in entry.purpose for entry in reads)
    with pytest.raises(signing.SigningError) as refused:
        signing.issue_citizen_certificate(session, an)
    assert refused.value.code == "exists"


def test_only_a_fresh_level_2_login_may_get_or_use_a_certificate(session, citizens):
    with pytest.raises(signing.SigningError) as refused:
        signing.issue_citizen_certificate(session, principal_for(session, citizens["binh"]))
    assert refused.value.code == "level"
    with pytest.raises(signing.SigningError) as refused:
        signing.issue_citizen_certificate(session, principal_for(session, citizens["an"], minutes_ago=60))
    assert refused.value.code == "reauth"
    with pytest.raises(signing.SigningError) as refused:
        signing.sign_pdf_as_citizen(session, principal_for(session, citizens["an"]), one_page_pdf(), "Đơn")
    assert refused.value.code == "none"


def test_a_guardian_acting_for_a_child_cannot_sign_for_them(session, citizens):
    child_view = dataclasses.replace(principal_for(session, citizens["an"]), guardian_account_id=citizens["binh"])
    with pytest.raises(signing.SigningError) as refused:
        signing.issue_citizen_certificate(session, child_view)
    assert refused.value.code == "guardian"


def test_citizen_signs_a_pdf_and_data_then_revokes(session, citizens):
    an = principal_for(session, citizens["an"])
    signing.issue_citizen_certificate(session, an)
    pdf = one_page_pdf("Don de nghi cap giay xac nhan thong tin cu tru")
    signed = signing.sign_pdf_as_citizen(session, an, pdf, "Nộp hồ sơ dịch vụ công")
    result = signing.verify_pdf(session, signed)
    assert result.valid and "Nguyễn Văn An" in result.signatures[0].signer

    data = '{"thu_tuc": "1.004227", "ho_ten": "Nguyễn Văn An"}'.encode()
    signature = signing.sign_data_as_citizen(session, an, data, "Tờ khai")
    assert cms.ContentInfo.load(signature)["content"]["encap_content_info"]["content"].native is None  # detached
    assert verify_data(session, data, signature).valid
    assert verify_data(session, data + b" ", signature).problem == "altered"

    records = signing.signatures_of(session, an)
    assert [r.kind for r in records] == ["cms", "pdf"]
    assert records[1].document_sha256 == hashlib.sha256(pdf).hexdigest()
    assert all(r.free_of_charge for r in records)  # inside the first year

    revoked = signing.revoke_citizen_certificate(session, an, "key_compromise")
    assert revoked.revoked_at is not None
    assert signing.verify_pdf(session, signed).verdict == "revoked"
    assert signing.citizen_certificate(session, an) is None
    with pytest.raises(signing.SigningError):
        signing.sign_pdf_as_citizen(session, an, pdf, "Đơn")


def test_free_of_charge_policy_is_configurable(session, citizens, monkeypatch):
    default = signing.policy(session)
    # the policy's day is Vietnam's (UTC+7): from 17:00 UTC the CA's UTC date is yesterday there
    ca_day = pki.country_ca(session).not_valid_before_utc.astimezone(signing.LOCAL_TIME).date()
    assert default.free_from == ca_day and (default.free_until - default.free_from).days == 364
    assert default.covers(ca_day, public_service=True) and not default.covers(ca_day, public_service=False)

    monkeypatch.setenv("DANCU_SIGNING_FREE_FROM", "2020-01-01")
    monkeypatch.setenv("DANCU_SIGNING_FREE_DAYS", "30")
    expired = signing.policy(session)
    assert (expired.free_from, expired.free_until) == (dt.date(2020, 1, 1), dt.date(2020, 1, 30))
    an = principal_for(session, citizens["an"])
    signing.issue_citizen_certificate(session, an)
    signing.sign_pdf_as_citizen(session, an, one_page_pdf(), "Đơn")
    assert not signing.signatures_of(session, an)[0].free_of_charge

    monkeypatch.setenv("DANCU_SIGNING_FREE_DAYS", "one year")
    with pytest.raises(ValueError, match="DANCU_SIGNING_FREE_DAYS"):
        signing.policy(session)


def test_mangled_pdfs_get_a_verdict_never_an_exception(session):
    """Truncations and random byte changes of a signed PDF: a verdict every time, never valid."""
    signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả")
    rng = random.Random(2026)
    cases = [signed[:size] for size in (10, 500, len(signed) // 2, len(signed) - 40)]
    for _ in range(30):
        mangled = bytearray(signed)
        for _ in range(rng.randint(1, 12)):
            at = rng.randrange(len(mangled))
            mangled[at] = (mangled[at] + rng.randint(1, 255)) % 256
        cases.append(bytes(mangled))
    for data in cases:
        result = signing.verify_pdf(session, data)
        if result.valid:
            # A change that only touched bytes outside the signed ranges (e.g. trailing whitespace) is fine.
            continue
        assert result.verdict in {"not-pdf", "damaged", "unsigned", "altered", "modified-after-signing",
                                  "untrusted"}, result
    assert sum(signing.verify_pdf(session, data).valid for data in cases) < len(cases) // 3

"""poppler's pdfsig (NSS) accepts dancu's signatures once the dancu CA is trusted, and what it does not check."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from signing_pdfs import one_page_pdf
from typer.testing import CliRunner

from dancu.cli import app
from dancu.identity.pki import services as pki
from dancu.identity.signing import services as signing

pytestmark = pytest.mark.skipif(not (shutil.which("pdfsig") and shutil.which("certutil")),
                                reason="needs pdfsig (poppler-utils) and certutil (libnss3-tools)")


def _nss_db_trusting(ca_pem: bytes, directory) -> str:
    """A throwaway NSS database (pdfsig -nssdir) with the dancu CA as a trusted root."""
    (directory / "ca.pem").write_bytes(ca_pem)
    nssdir = f"sql:{directory}"
    subprocess.run(["certutil", "-N", "-d", nssdir, "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-d", nssdir, "-n", "dancu-country-ca", "-t", "CT,C,C",
                    "-i", str(directory / "ca.pem")], check=True, capture_output=True)
    return nssdir


def _pdfsig(nssdir: str, pdf_path) -> subprocess.CompletedProcess:
    # No -no-ocsp: with it this poppler reports "Unknown issue with Certificate"; dancu certificates
    # name no OCSP responder, so nothing is fetched either way.
    return subprocess.run(["pdfsig", "-nssdir", nssdir, str(pdf_path)], check=False, capture_output=True,
                          text=True, timeout=60)


def test_pdfsig_validates_a_state_sealed_pdf(session, tmp_path):
    signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả giải quyết thủ tục hành chính")
    nss = tmp_path / "nss"
    nss.mkdir()
    nssdir = _nss_db_trusting(pki.country_ca(session).public_bytes(Encoding.PEM), nss)
    pdf_path = tmp_path / "ket-qua.pdf"
    pdf_path.write_bytes(signed)

    result = _pdfsig(nssdir, pdf_path)
    assert result.returncode == 0, result.stderr
    assert "Signer Certificate Common Name: dancu State Seal" in result.stdout
    assert "Signature Validation: Signature is Valid." in result.stdout
    assert "Certificate Validation: Certificate is Trusted." in result.stdout
    assert "ETSI.CAdES.detached" in result.stdout

    # Without the CA in its database pdfsig still checks the math but does not trust the signer.
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{empty}", "--empty-password"], check=True, capture_output=True)
    untrusted = _pdfsig(f"sql:{empty}", pdf_path)
    assert "Signature is Valid." in untrusted.stdout and "Certificate is Trusted." not in untrusted.stdout


def test_pdfsig_rejects_an_altered_pdf(session, tmp_path):
    signed = signing.sign_pdf_as_state(session, one_page_pdf(), "Kết quả")
    at = signed.index(b"Ket qua")
    altered = signed[:at] + b"L" + signed[at + 1:]
    nss = tmp_path / "nss"
    nss.mkdir()
    nssdir = _nss_db_trusting(pki.country_ca(session).public_bytes(Encoding.PEM), nss)
    pdf_path = tmp_path / "altered.pdf"
    pdf_path.write_bytes(altered)
    result = _pdfsig(nssdir, pdf_path)
    assert "Signature Validation: Signature is Valid." not in result.stdout
    assert "Digest Mismatch" in result.stdout or "Invalid" in result.stdout, result.stdout


def _replace_page_text(signed: bytes, text: str) -> bytes:
    """A later edit as any PDF editor saves it: an incremental update with a new content stream for page 1."""
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(
        stream_data=f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")))
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdfsig_calls_a_file_whose_page_text_was_replaced_valid_but_dancu_pdf_verify_refuses_it(
        database_url, session, tmp_path):
    """pdfsig checks the signature over its signed byte range only: an incremental update after it, which
    replaces what the page shows, still reports "Signature is Valid" (docs/signatures.md). The full check is
    dancu's, which analyses what the update changed."""
    signed = signing.sign_pdf_as_state(session, one_page_pdf("Ket qua: DAT"), "Kết quả")
    session.commit()
    edited = tmp_path / "edited.pdf"
    edited.write_bytes(_replace_page_text(signed, "Ket qua: KHONG DAT"))
    assert b"KHONG DAT" in edited.read_bytes()
    nss = tmp_path / "nss"
    nss.mkdir()
    nssdir = _nss_db_trusting(pki.country_ca(session).public_bytes(Encoding.PEM), nss)
    fooled = _pdfsig(nssdir, edited)
    assert "Signature Validation: Signature is Valid." in fooled.stdout, fooled.stdout
    assert "Not total document signed" in fooled.stdout, fooled.stdout

    verdict = CliRunner().invoke(app, ["pdf", "verify", str(edited), "--json"])
    assert verdict.exit_code == 1, verdict.output
    report = json.loads(verdict.stdout)
    assert not report["valid"] and report["signatures"][0]["problem"] == "modified-after-signing", report

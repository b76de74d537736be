"""`dancu pdf seal` and `dancu pdf verify` as an operator runs them."""

from __future__ import annotations

import json

from signing_pdfs import one_page_pdf
from typer.testing import CliRunner

from dancu import db
from dancu.cli import app
from dancu.identity.pki import services as pki

runner = CliRunner()


def test_seal_then_verify_in_both_languages(database_url, tmp_path):
    plain = tmp_path / "ket-qua.pdf"
    plain.write_bytes(one_page_pdf())
    sealed = tmp_path / "ket-qua-signed.pdf"
    result = runner.invoke(app, ["pdf", "seal", str(plain), "--out", str(sealed)])
    assert result.exit_code == 0, result.output

    result = runner.invoke(app, ["pdf", "verify", str(sealed)])
    assert result.exit_code == 0, result.output
    assert "Chữ ký hợp lệ" in result.output and "dancu State Seal" in result.output and "có dấu thời gian" in result.output
    result = runner.invoke(app, ["pdf", "verify", str(sealed), "--lang", "en"])
    assert result.exit_code == 0 and "Signature valid" in result.output and "timestamped" in result.output

    report = json.loads(runner.invoke(app, ["pdf", "verify", str(sealed), "--json"]).stdout)
    assert report["valid"] and report["signatures"][0]["timestamped"] and report["signatures"][0]["intact"]

    with db.new_session() as session:
        pki.revoke(session, pki.state_signer(session)[1].serial_number, "key_compromise")
        session.commit()
    result = runner.invoke(app, ["pdf", "verify", str(sealed), "--lang", "en"])
    assert result.exit_code == 1 and "certificate has been revoked" in result.output


def test_verify_explains_bad_input(database_url, tmp_path):
    unsigned = tmp_path / "unsigned.pdf"
    unsigned.write_bytes(one_page_pdf())
    result = runner.invoke(app, ["pdf", "verify", str(unsigned), "--lang", "en"])
    assert result.exit_code == 1 and "has no digital signature" in result.output

    text = tmp_path / "note.txt"
    text.write_text("không phải PDF", encoding="utf-8")
    result = runner.invoke(app, ["pdf", "verify", str(text)])
    assert result.exit_code == 1 and "không phải là tài liệu PDF" in result.output

    result = runner.invoke(app, ["pdf", "verify", str(tmp_path / "missing.pdf")])
    assert result.exit_code == 2 and "is not a file" in result.output

    result = runner.invoke(app, ["pdf", "seal", str(text), "--out", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2 and "not a PDF" in result.output

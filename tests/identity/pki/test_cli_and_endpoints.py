"""`dancu pki init/show/revoke` and the public /pki/ca.pem and /pki/crl.der (no login)."""

from __future__ import annotations

from cryptography import x509
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dancu import db
from dancu.cli import app
from dancu.identity.pki import services
from dancu.web.app import create_app

runner = CliRunner()


def test_init_show_revoke(database_url, tmp_path):
    ca_file = tmp_path / "ca.pem"
    result = runner.invoke(app, ["pki", "init", "--ca-out", str(ca_file)])
    assert result.exit_code == 0, result.output
    ca = x509.load_pem_x509_certificate(ca_file.read_bytes())
    assert "dancu Country CA" in result.output

    result = runner.invoke(app, ["pki", "show"])
    assert result.exit_code == 0, result.output
    assert "state-signing" in result.output and "tsa" in result.output and "country-ca" in result.output

    with db.new_session() as session:
        assert services.country_ca(session).serial_number == ca.serial_number
        state_serial = services.state_signer(session)[1].serial_number

    result = runner.invoke(app, ["pki", "revoke", format(state_serial, "x"), "--reason", "superseded"])
    assert result.exit_code == 0, result.output
    assert "revoked" in result.output
    result = runner.invoke(app, ["pki", "show", "--purpose", "state-signing"])
    assert "REVOKED" in result.output and "superseded" in result.output

    result = runner.invoke(app, ["pki", "revoke", format(state_serial, "x")])
    assert result.exit_code == 1 and "already revoked" in result.output
    result = runner.invoke(app, ["pki", "revoke", "not-hex"])
    assert result.exit_code == 2 and "hexadecimal" in result.output


def test_ca_and_crl_are_public(database_url):
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        pem = client.get("/pki/ca.pem")
        assert pem.status_code == 200 and pem.headers["content-type"].startswith("application/x-pem-file")
        ca = x509.load_pem_x509_certificate(pem.content)
        der = client.get("/pki/crl.der")
        assert der.status_code == 200 and der.headers["content-type"] == "application/pkix-crl"
        crl = x509.load_der_x509_crl(der.content)
    assert crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key())

"""Offline verification: valid, lost, replaced, tampered, foreign signer, the CLI with files only."""

import base64
import datetime as dt
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from dancu.cli import app
from dancu.identity.cards import chip
from dancu.identity.cards import services as cards
from dancu.identity.cards.schemas import ApplicationInput
from dancu.identity.pki import services as pki


def _trust_files(session, out):
    """What the server publishes, written by `dancu card trust-files` as an operator would."""
    session.commit()
    result = CliRunner().invoke(app, ["card", "trust-files", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _verify_cli(tmp_path, *args):
    return CliRunner().invoke(app, ["card", "verify", *args, "--ca", str(tmp_path / "ca.pem"),
                                    "--status", str(tmp_path / "card-status.jws"), "--crl", str(tmp_path / "crl.der")])


def test_a_lost_card_fails_offline_verification(session, approver, make_person, issue_card, tmp_path,
                                                monkeypatch):
    application_id = issue_card(make_person())
    chip_data, qr_text = cards.chip_data(session, approver, application_id, "test")
    (tmp_path / "chip.json").write_text(chip_data)
    document = cards.get_application(session, approver, application_id, "test").card.document_number
    before = _trust_files(session, tmp_path / "before")
    assert _verify_cli(before, str(tmp_path / "chip.json")).exit_code == 0

    cards.report_loss(session, approver, document, note="lost at the market")
    session.commit()
    after = _trust_files(session, tmp_path / "after")
    # The verifier has no database: only the three files.
    monkeypatch.setenv("DANCU_DATABASE_URL", "sqlite:////nonexistent/dir/none.sqlite3")
    for args in ([str(tmp_path / "chip.json")], ["--qr", qr_text]):
        result = _verify_cli(after, *args)
        assert result.exit_code == 1, result.output
        assert "NOT VALID" in result.output and "revoked_lost" in result.output


def test_tampered_chip_data_and_qr_fail(session, approver, make_person, issue_card):
    application_id = issue_card(make_person())
    chip_data, qr_text = cards.chip_data(session, approver, application_id, "test")
    trust = cards.trust(session)
    document = json.loads(chip_data)
    dg1 = json.loads(base64.urlsafe_b64decode(document["data_groups"]["DG1"] + "=="))
    dg1["name"] = "Nguyễn Văn Giả"
    document["data_groups"]["DG1"] = base64.urlsafe_b64encode(chip.canonical(dg1)).rstrip(b"=").decode()
    assert chip.verify_chip(json.dumps(document), trust).problems == ["data_group_hash"]

    header, payload, signature = qr_text.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["e"] = "2099-01-01"
    forged_payload = base64.urlsafe_b64encode(chip.canonical(claims)).rstrip(b"=").decode()
    assert chip.verify_qr(f"{header}.{forged_payload}.{signature}", trust).problems == ["signature"]
    assert chip.verify_any("not a card", trust).problems == ["format"]


def test_data_signed_by_a_key_outside_the_country_ca_fails(session, approver, make_person, issue_card):
    application_id = issue_card(make_person())
    chip_data, _ = cards.chip_data(session, approver, application_id, "test")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, chip.CHIP_SIGNER_CN)])
    now = dt.datetime.now(dt.UTC)
    rogue = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(1))
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
             .sign(key, hashes.SHA256()))
    dg1 = json.loads(base64.urlsafe_b64decode(json.loads(chip_data)["data_groups"]["DG1"] + "=="))
    data = chip.CardData(document_number=dg1["doc"], pin=dg1["pin"], full_name="Kẻ Giả Mạo", birth_date=dg1["dob"],
                         sex="M", nationality="VNM", hometown="", residence="", issued_on=dt.date.today(),
                         expires_on=None)
    forged = chip.build_chip_data(data, None, rogue, lambda b: key.sign(b, ec.ECDSA(hashes.SHA256())))
    assert chip.verify_chip(forged, cards.trust(session)).problems == ["signer_untrusted"]


def test_activating_a_renewed_card_revokes_the_earlier_one(session, approver, commune, make_person, issue_card,
                                                           monkeypatch):
    person_id = make_person(birth="2000-05-01")
    monkeypatch.setattr(cards, "_today", lambda: dt.date(2015, 1, 10))
    first = issue_card(person_id)
    old_chip, _ = cards.chip_data(session, approver, first, "test")
    monkeypatch.setattr(cards, "_today", lambda: dt.date(2024, 1, 10))  # within 2 years of turning 25
    second = issue_card(person_id, kind="renewal")
    view = cards.get_application(session, approver, second, "test")
    assert view.card.expires_on == dt.date(2040, 5, 1)
    assert [c.status for c in view.previous_cards] == ["superseded"]
    old = chip.verify_chip(old_chip, cards.trust(session))
    assert not old.valid and "revoked_superseded" in old.problems


def test_reissue_after_loss_reports_the_loss_at_once(session, approver, commune, make_person, issue_card):
    person_id = make_person()
    first = issue_card(person_id)
    old_chip, _ = cards.chip_data(session, approver, first, "test")
    cards.create_application(session, approver, ApplicationInput(person_id=person_id, kind="reissue_loss",
                                                                 reason="mất ví", unit_id=commune.id))
    session.commit()
    assert "revoked_lost" in chip.verify_chip(old_chip, cards.trust(session)).problems


def test_a_stale_or_foreign_status_list_is_refused(session, approver, make_person, issue_card):
    issue_card(make_person())
    ca_pem = pki.country_ca(session).public_bytes(serialization.Encoding.PEM)
    status = cards.current_status_list(session)
    with pytest.raises(chip.VerificationInputError, match="expired"):
        chip.load_trust(ca_pem, status, at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    header, payload, signature = status.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=="))
    body["nxt"] = "2099-01-01T00:00:00+00:00"  # a stale list passed off as fresh
    edited = base64.urlsafe_b64encode(chip.canonical(body)).rstrip(b"=").decode()
    with pytest.raises(chip.VerificationInputError, match="signature"):
        chip.load_trust(ca_pem, f"{header}.{edited}.{signature}")

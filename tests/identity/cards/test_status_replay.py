"""Card status lists cannot be replayed backwards: an offline verifier remembers the newest list number it
used, per issuing CA, and refuses an older one that is still within its (now short) validity window."""

import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from typer.testing import CliRunner

from dancu.cli import app
from dancu.identity.cards import chip
from dancu.identity.cards import services as cards
from dancu.identity.pki import services as pki


def _trust_files(session, out):
    session.commit()
    result = CliRunner().invoke(app, ["card", "trust-files", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _verify(files, chip_file, seen):
    return CliRunner().invoke(app, ["card", "verify", str(chip_file), "--ca", str(files / "ca.pem"),
                                    "--status", str(files / "card-status.jws"), "--seen", str(seen)])


def test_a_replayed_older_status_list_does_not_make_a_lost_card_valid(session, approver, make_person, issue_card,
                                                                      tmp_path):
    application_id = issue_card(make_person())
    chip_data, _ = cards.chip_data(session, approver, application_id, "test")
    chip_file = tmp_path / "chip.json"
    chip_file.write_text(chip_data)
    document = cards.get_application(session, approver, application_id, "test").card.document_number
    before = _trust_files(session, tmp_path / "before")
    seen = tmp_path / "verifier" / "seen.json"
    assert _verify(before, chip_file, seen).exit_code == 0

    cards.report_loss(session, approver, document, note="lost at the market")
    after = _trust_files(session, tmp_path / "after")
    lost = _verify(after, chip_file, seen)
    assert lost.exit_code == 1 and "revoked_lost" in lost.output
    # The list from before the loss is still within its validity, but this verifier has used a newer one.
    replayed = _verify(before, chip_file, seen)
    assert replayed.exit_code == 2, replayed.output
    assert "older than" in replayed.output and "VALID" not in replayed.output
    # Remembered per issuing CA, by the CA certificate's SHA-256.
    ca_fingerprint = pki.country_ca(session).fingerprint(hashes.SHA256()).hex()
    newest = chip.load_trust((after / "ca.pem").read_bytes(), (after / "card-status.jws").read_text()).status
    assert json.loads(seen.read_text()) == {ca_fingerprint: newest.sequence}
    # The same list again is fine: the memory refuses going back, not repeating.
    assert _verify(after, chip_file, seen).exit_code == 1


def test_the_verifier_memory_keeps_the_highest_number_and_refuses_damage(session, tmp_path):
    trust = cards.trust(session)
    seen = chip.SeenStatusLists(tmp_path / "seen.json")
    seen.admit(trust)
    newer = cards.publish_status_list(session)
    ca_pem = pki.country_ca(session).public_bytes(serialization.Encoding.PEM)
    seen.admit(chip.load_trust(ca_pem, newer.token))
    with pytest.raises(chip.VerificationInputError, match="older than"):
        seen.admit(trust)
    (tmp_path / "seen.json").write_text("{not json")
    with pytest.raises(chip.VerificationInputError, match="damaged"):
        seen.admit(trust)


def test_status_lists_are_valid_for_hours_not_days(session):
    status = cards.trust(session).status
    assert status.next_update - status.issued_at <= dt.timedelta(hours=6)
    ca_pem = pki.country_ca(session).public_bytes(serialization.Encoding.PEM)
    token = cards.current_status_list(session)
    later = status.issued_at + dt.timedelta(hours=7)
    with pytest.raises(chip.VerificationInputError, match="expired"):
        chip.load_trust(ca_pem, token, at=later)

"""The citizen's "who read my data" entries come with inclusion proofs that check out offline."""

from __future__ import annotations

import json
import re
import time

import httpx
from eid_helpers import CITIZEN_PASSWORD, PARENT_PIN
from test_smoke_cli import run_dancu

from dancu import db
from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit import transparency
from dancu.audit.services import seal_all
from dancu.identity.eid import services as eid
from dancu.registry import services as registry


def test_a_citizen_downloads_proofs_of_who_read_their_data(server, citizens, tmp_path):
    with db.session_scope() as session:
        eid.create_account(session, pin=PARENT_PIN, phone="0912345678", password=CITIZEN_PASSWORD, level=1)
        registry.get_person(session, Actor("canbo", Role.REGISTRAR), citizens.parent_id, "xác minh cư trú")
    # The server's own sealer may hold the tree at this moment (then ours skips): go on until a checkpoint covers all.
    for _ in range(100):
        with db.session_scope() as session:
            seal_all(session)
            transparency.checkpoint_now(session)
            if not transparency.inclusion_bundle(session, "person", citizens.parent_id)["pending"]:
                break
        time.sleep(0.1)
    with httpx.Client(base_url=server) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/eid/login").text)[1]
        assert client.post("/eid/login", data={"pin": PARENT_PIN, "password": CITIZEN_PASSWORD, "next": "/me",
                                               "csrf_token": token}).status_code == 303
        assert 'href="/me/access-log/proofs.json"' in client.get("/me").text
        download = client.get("/me/access-log/proofs.json")
        key = client.get("/audit/checkpoint/key").text.strip()
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    bundle = download.json()
    reads = [json.loads(item["leaf"]) for item in bundle["entries"]]
    assert reads and all(leaf[6] == str(citizens.parent_id) for leaf in reads)
    assert any(leaf[3] == "canbo" and leaf[7] == "xác minh cư trú" for leaf in reads)
    path = tmp_path / "proofs.json"
    path.write_text(download.text, encoding="utf-8")
    checked = run_dancu("audit", "verify-inclusion", str(path), "--key", key)
    assert checked.returncode == 0 and f"{len(reads)} entries proven" in checked.stdout

"""The linkage REST API and console pages, over HTTP against a real database."""

import csv
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, create_user
from dancu.linkage import agency, services
from dancu.linkage.schemas import LinkageOptions
from dancu.registry.bulk import import_file
from dancu.registry.models import Person
from dancu.web.app import create_app

PASSWORD = "correct horse battery"
ADMIN = Actor("linker", Role.ADMIN)
QUICK = LinkageOptions(threads=1, u_sample_pairs=2e5)
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def linked(session, write_city, tmp_path):
    """A register with duplicates, a stored register run, and a linked land-parcel file; staff accounts."""
    path, truth = write_city(400, seed=41, errors=0.25)
    import_file(path, progress=False)
    person_of = {ref.rsplit("/", 1)[1]: pid for pid, ref in session.execute(select(Person.id, Person.source_ref))}
    true_pairs = {tuple(sorted((person_of[a], person_of[b]))) for a, b in services.truth_pairs(truth)}
    summary = services.run_linkage(session, ADMIN, path=None, purpose="duplicate check of the register",
                                   out_dir=tmp_path / "out", options=QUICK)
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["birth_date"].count("-") == 2][:25]
    land = tmp_path / "land.csv"
    with land.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("so_thua", "chu_su_dung", "ngay_sinh", "dia_chi"))
        for number, row in enumerate(rows):
            year, month, day = row["birth_date"].split("-")
            # the first owner's day of birth differs from the register's
            birth = row["birth_date"] if number else f"{year}-{month}-{int(day) % 28 + 1:02d}"
            writer.writerow((f"T{number}", " ".join(p for p in (row["family_name"], row["middle_name"],
                                                                 row["given_name"]) if p),
                             birth, row["permanent_unit"]))
    dataset = agency.link_dataset(session, ADMIN, path=land, kind="land_parcel", name="Sổ địa chính",
                                  mapping={"so_thua": "record_id", "chu_su_dung": "full_name",
                                           "ngay_sinh": "birth_date", "dia_chi": "permanent_unit"},
                                  purpose="reconcile land owners", options=QUICK)
    for name, role in (("admin", Role.ADMIN), ("canbo", Role.REGISTRAR), ("kiemtra", Role.AUDITOR)):
        create_user(session, name, PASSWORD, role)
    session.commit()
    return summary.run_id, true_pairs, dataset


@pytest.fixture
def client(linked):
    with TestClient(create_app(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def _bearer(client, username):
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _true_pair(client, headers, run_id, true_pairs):
    pairs = client.get("/api/v1/linkage/pairs", params={"run_id": run_id, "page_size": 200}, headers=headers).json()
    return next(p for p in pairs["items"] if (int(p["left_record"]), int(p["right_record"])) in true_pairs)


def test_api_review_decide_merge_and_undo(client, linked):
    run_id, true_pairs, _dataset = linked
    registrar, auditor = _bearer(client, "canbo"), _bearer(client, "kiemtra")
    runs = client.get("/api/v1/linkage/runs", headers=auditor).json()
    assert [r["id"] for r in runs] == [run_id]
    pair = _true_pair(client, registrar, run_id, true_pairs)

    assert client.get(f"/api/v1/linkage/pairs/{pair['id']}", headers=registrar).status_code == 422  # no purpose
    detail = client.get(f"/api/v1/linkage/pairs/{pair['id']}", params={"purpose": "clerical review"},
                        headers=registrar).json()
    assert detail["of_register"] and detail["comparisons"] and detail["left"]["fields"]["full_name"]
    assert client.post(f"/api/v1/linkage/pairs/{pair['id']}/decisions", json={"decision": "match"},
                       headers=auditor).status_code == 403
    assert client.post(f"/api/v1/linkage/pairs/{pair['id']}/decisions", json={"decision": "yes"},
                       headers=registrar).status_code == 422
    assert client.post("/api/v1/linkage/pairs/999999/decisions", json={"decision": "match"},
                       headers=registrar).status_code == 404
    refused = client.post(f"/api/v1/linkage/pairs/{pair['id']}/merge", json={"reason": "duplicate"},
                          headers=registrar)
    assert refused.status_code == 422 and "decide" in refused.json()["detail"]
    made = client.post(f"/api/v1/linkage/pairs/{pair['id']}/decisions", json={"decision": "match", "note": "same"},
                       headers=registrar)
    assert made.status_code == 201 and made.json()["actor"] == "canbo"

    merged = client.post(f"/api/v1/linkage/pairs/{pair['id']}/merge", json={"reason": "duplicate registration"},
                         headers=registrar)
    assert merged.status_code == 201, merged.text
    survivor, retired = sorted((int(pair["left_record"]), int(pair["right_record"])))
    person = client.get(f"/api/v1/persons/{retired}", params={"purpose": "follow a redirect"},
                        headers=registrar).json()
    assert (person["id"], person["redirected_from"]) == (survivor, retired)
    again = client.post(f"/api/v1/linkage/pairs/{pair['id']}/merge", json={"reason": "duplicate registration"},
                        headers=registrar)
    assert again.status_code == 422
    undone = client.post(f"/api/v1/linkage/pairs/{pair['id']}/undo-merge", json={"reason": "merged by mistake"},
                         headers=registrar)
    assert undone.status_code == 200 and undone.json()["undone"]
    person = client.get(f"/api/v1/persons/{retired}", params={"purpose": "after the undo"}, headers=registrar).json()
    assert person["id"] == retired and person["redirected_from"] is None

    scored = client.get(f"/api/v1/linkage/runs/{run_id}/evaluation", headers=auditor).json()
    assert scored["decided_pairs"] == 1 and scored["decided_matches"] == 1
    undecided = client.get("/api/v1/linkage/pairs", params={"run_id": run_id, "undecided": True, "page_size": 200},
                           headers=auditor).json()
    assert pair["id"] not in {p["id"] for p in undecided["items"]}


def test_api_agency_datasets_and_reconciliation(client, linked):
    _run_id, _true_pairs, dataset = linked
    auditor, registrar = _bearer(client, "kiemtra"), _bearer(client, "canbo")
    listed = client.get("/api/v1/linkage/datasets", headers=registrar).json()
    assert [(d["id"], d["kind"], d["records"]) for d in listed] == [(dataset.id, "land_parcel", 25)]
    assert client.get(f"/api/v1/linkage/datasets/{dataset.id}/reconciliation", params={"purpose": "check"},
                      headers=registrar).status_code == 403
    report = client.get(f"/api/v1/linkage/datasets/{dataset.id}/reconciliation",
                        params={"purpose": "reconcile land owners", "status": "conflicting"}, headers=auditor).json()
    assert report["total"] == dataset.conflicting >= 1
    assert any("birth_date" in row["conflicts"] for row in report["items"])
    text = client.get(f"/api/v1/linkage/datasets/{dataset.id}/reconciliation.csv",
                      params={"purpose": "reconcile land owners"}, headers=auditor)
    assert text.headers["content-type"].startswith("text/csv") and len(text.text.splitlines()) == 26
    assert client.get("/api/v1/linkage/datasets/77/reconciliation", params={"purpose": "check"},
                      headers=auditor).status_code == 404


def _login(client, username):
    token = CSRF_INPUT.search(client.get("/login").text)[1]
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def test_pages_review_a_pair_merge_it_and_show_links(client, linked):
    run_id, true_pairs, dataset = linked
    _login(client, "canbo")
    queue = client.get(f"/linkage/review?run={run_id}&band=strong&undecided=1")
    assert queue.status_code == 200 and "Rà soát thủ công" in queue.text
    pair = _true_pair(client, {}, run_id, true_pairs)
    page = client.get(f"/linkage/pairs/{pair['id']}")
    assert page.status_code == 200 and "<svg" in page.text and 'class="bar bar-' in page.text
    token = CSRF_INPUT.search(page.text)[1]
    decided = client.post(f"/linkage/pairs/{pair['id']}/decision", data={"decision": "match", "csrf_token": token})
    assert decided.status_code == 200 and "Đã ghi nhận quyết định" in decided.text
    assert 'id="merge-reason"' in decided.text
    merged = client.post(f"/linkage/pairs/{pair['id']}/merge", data={"reason": "trùng đăng ký", "csrf_token": token,
                                                                      "survivor_id": pair["left_record"]})
    assert "Đã hợp nhất" in merged.text
    retired = pair["right_record"]
    person = client.get(f"/registry/persons/{retired}")
    assert f"Hồ sơ {retired} đã được hợp nhất" in person.text and "/linkage/persons/" in person.text
    links = client.get(f"/linkage/persons/{pair['left_record']}/links", headers={"HX-Request": "true"})
    assert links.status_code == 200 and "Hồ sơ đã hợp nhất vào công dân này" in links.text
    assert client.get("/linkage/datasets/1").status_code == 403  # registrars do not read whole reconciliations
    undone = client.post(f"/linkage/pairs/{pair['id']}/undo-merge", data={"reason": "x", "csrf_token": token})
    assert 'class="alert alert-error"' in undone.text and "ít nhất 3 ký tự" in undone.text
    undone = client.post(f"/linkage/pairs/{pair['id']}/undo-merge", data={"reason": "nhầm lẫn",
                                                                          "csrf_token": token})
    assert "Đã hoàn tác" in undone.text

    client.cookies.clear()
    _login(client, "kiemtra")
    page = client.get(f"/linkage/pairs/{pair['id']}?lang=en")
    assert "Why this weight" in page.text and "Your decision" not in page.text
    assert client.post(f"/linkage/pairs/{pair['id']}/decision", data={"decision": "match", "csrf_token": token},
                       follow_redirects=False).status_code in (403, 303)
    report = client.get(f"/linkage/datasets/{dataset.id}?status=conflicting")
    assert report.status_code == 200 and "Conflicting" in report.text
    download = client.get(f"/linkage/datasets/{dataset.id}/reconciliation.csv")
    assert download.text.startswith("record_id,status,person_id")

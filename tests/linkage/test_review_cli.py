"""`dancu linkage review`, `link`, `reconcile` and `evaluate --run` as an operator runs them."""

import csv
import json

from typer.testing import CliRunner

from dancu.cli import app
from dancu.registry.bulk import import_file

runner = CliRunner()


def _ok(args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_review_from_the_command_line(session, write_city, tmp_path):
    path, _truth = write_city(400, seed=61, errors=0.25)
    import_file(path, progress=False)
    _ok(["linkage", "run", "--register", "--purpose", "duplicate check", "--out", str(tmp_path), "--threads", "1",
         "--quiet"])
    pending = json.loads(_ok(["linkage", "review", "list", "--pending", "--json"]).stdout)
    assert pending["total"] > 0 and all(p["decision"] is None for p in pending["items"])
    pair = pending["items"][0]

    shown = json.loads(_ok(["linkage", "review", "show", str(pair["id"]), "--purpose", "clerical review",
                            "--json"]).stdout)
    assert shown["left"]["person_id"] == int(pair["left_record"]) and shown["comparisons"]
    table = _ok(["linkage", "review", "show", str(pair["id"]), "--purpose", "clerical review"]).stdout
    assert "match weight per comparison" in table

    assert "pair" in _ok(["linkage", "review", "decide", str(pair["id"]), "match", "--note", "same person"]).stdout
    wrong = runner.invoke(app, ["linkage", "review", "decide", str(pair["id"]), "perhaps"])
    assert wrong.exit_code == 2 and "decision must be one of" in wrong.output
    merged = _ok(["linkage", "review", "merge", str(pair["id"]), "--reason", "duplicate registration"]).stdout
    assert "merged (merge" in merged
    assert "undone" in _ok(["linkage", "review", "undo-merge", str(pair["id"]), "--reason", "by mistake"]).stdout
    scored = json.loads(_ok(["linkage", "evaluate", "--run", str(pair["run_id"]), "--json"]).stdout)
    assert (scored["decided_pairs"], scored["decided_matches"]) == (1, 1)
    assert pair["id"] not in {p["id"] for p in json.loads(
        _ok(["linkage", "review", "list", "--pending", "--page-size", "200", "--json"]).stdout)["items"]}


def test_link_and_reconcile_with_a_column_mapping(session, write_city, tmp_path):
    path, _truth = write_city(300, seed=62, errors=0.1)
    import_file(path, progress=False)
    with path.open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["birth_date"].count("-") == 2][:15]
    civil = tmp_path / "ho_tich.csv"
    with civil.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("so_dang_ky", "ho", "dem", "ten", "ngay_sinh", "gioi_tinh", "noi_dang_ky"))
        for number, row in enumerate(rows):
            year, month, day = row["birth_date"].split("-")
            writer.writerow((f"KS{number}", row["family_name"], row["middle_name"], row["given_name"],
                             f"{day}/{month}/{year}", {"M": "Nam", "F": "Nữ"}.get(row["sex"], ""),
                             row["birth_registration_unit"]))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"so_dang_ky": "record_id", "ho": "family_name", "dem": "middle_name",
                                   "ten": "given_name", "ngay_sinh": "birth_date"}))
    linked = json.loads(_ok(["linkage", "link", str(civil), "--kind", "civil_status", "--mapping", str(mapping),
                             "--map", "gioi_tinh=sex", "--map", "noi_dang_ky=birth_registration_unit",
                             "--purpose", "reconcile civil status", "--threads", "1", "--json"]).stdout)
    assert linked["records"] == 15 and linked["matched"] >= 13
    assert linked["mapping"]["gioi_tinh"] == "sex"

    report = tmp_path / "report.csv"
    printed = _ok(["linkage", "reconcile", str(linked["id"]), "--purpose", "reconcile civil status",
                   "--csv", str(report)]).stdout
    assert "matched, no conflict" in printed
    with report.open(encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 15 and sum(line["status"] != "unmatched" for line in lines) == linked["matched"]
    listed = json.loads(_ok(["linkage", "datasets", "--json"]).stdout)
    assert [d["kind"] for d in listed] == ["civil_status"]

    bad = runner.invoke(app, ["linkage", "link", str(civil), "--kind", "civil_status", "--map", "ho=surname",
                              "--purpose", "x-check"])
    assert bad.exit_code == 2 and "unknown field" in bad.output

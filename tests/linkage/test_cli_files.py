"""Bad input files through `dancu linkage`, run as an operator runs it (a separate process).

The linkage commands read operator-given files (a file to deduplicate, its
ground truth, an agency's extract) as `dancu import` reads one
(`dancu.tabular`): a fault of the whole file refuses it in one line with exit
status 2; a fault of one row rejects that row, reported on standard error with
its line, and the other rows are used (exit status 1). Before, these readers
were plain csv.DictReader: an oversized field or a truncated .gz ended in a
traceback, an unbalanced quote swallowed the rows after it, a column named
twice was silently ignored, and there was no --encoding.
"""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import pytest
from test_cli_operator_errors import one_line_error
from test_smoke_cli import run_dancu

from dancu.linkage import agency, services

_TONES = "\u0300\u0301\u0303\u0309\u0323"
GIANT = "x" * 200_000  # past the CSV reader's 128 KiB field limit


def cp1258(text: str) -> bytes:
    """Text as Windows-1258 writes Vietnamese: a base letter (precomposed where the code page has it)
    followed by its tone mark."""
    out = []
    for char in text:
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            marks = unicodedata.normalize("NFD", char)
            base = unicodedata.normalize("NFC", "".join(c for c in marks if c not in _TONES))
            out.append((base + "".join(c for c in marks if c in _TONES)).encode("cp1258"))
    return b"".join(out)


@pytest.fixture
def city(session, write_city) -> tuple[Path, Path]:
    path, truth = write_city(300, seed=21, errors=0.2)
    session.rollback()  # no open transaction while `dancu` writes in its own process
    return path, truth


def _no_traceback(result) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def test_run_rejects_an_oversized_field_and_an_unbalanced_quote_and_reads_cp1258(city, tmp_path):
    path, _ = city
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    width = lines[0].count(",") + 1
    giant = f"giant1,{GIANT}" + "," * (width - 2) + "\n"
    unbalanced = 'quote1,"Nguyễn Văn Lạc' + "," * (width - 2) + "\n"
    # header, 10 rows, the giant (line 12), 10 rows, the stray quote (line 23), the other rows
    bad = [*lines[:11], giant, *lines[11:21], unbalanced, *lines[21:]]
    old = tmp_path / "old-system.csv"
    old.write_bytes(cp1258("".join(bad)))

    refused = run_dancu("linkage", "run", str(old), "--quiet")
    one_line_error(refused, "old-system.csv: line 2 is not valid UTF-8", "looks like cp1258", "--encoding cp1258")

    result = run_dancu("linkage", "run", str(old), "--encoding", "cp1258", "--threads", "1", "--json",
                       "--out", str(tmp_path / "out"))
    _no_traceback(result)
    assert result.returncode == 1, result.stderr  # some rows were rejected
    summary = json.loads(result.stdout)
    assert summary["records"] == len(lines) - 1  # every valid row, the ones after the stray quote too
    assert [(r["line"], r["reason"]) for r in summary["rejected"]] == [
        (12, "a field is longer than 131,072 characters"),
        (23, "a quote opened on this line is not closed (unbalanced quote)"),
    ]
    assert "rejected: old-system.csv line 12: a field is longer than" in result.stderr
    assert "rejected: old-system.csv line 23: a quote opened on this line is not closed" in result.stderr
    assert "2 rows rejected" in result.stderr


def _truncated(path: Path, tmp_path: Path) -> Path:
    packed = gzip.compress(path.read_bytes() * 20)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(packed[: len(packed) // 2])
    return cut


def _twice(path: Path, tmp_path: Path) -> Path:
    header, rest = path.read_text(encoding="utf-8").split("\n", 1)
    twice = tmp_path / "twice.csv"
    twice.write_text(f"{header},given_name\n" + "".join(f"{line},X\n" for line in rest.splitlines()),
                     encoding="utf-8")
    return twice


def _commands(file: Path, truth: Path) -> list[tuple[str, ...]]:
    return [
        ("linkage", "run", str(file), "--quiet"),
        ("linkage", "evaluate", str(file), "--truth", str(truth), "--quiet"),
        ("linkage", "link", str(file), "--kind", "land_parcel", "--map", "record_id=record_id",
         "--map", "full_name=full_name", "--map", "given_name=given_name", "--purpose", "đối soát", "--quiet"),
    ]


def test_whole_file_faults_are_refused_in_one_line_by_every_linkage_command(city, tmp_path):
    path, truth = city
    old = tmp_path / "old.csv"
    old.write_bytes(cp1258(path.read_text(encoding="utf-8")))
    header_only = tmp_path / "empty.csv"
    header_only.write_text(path.read_text(encoding="utf-8").split("\n", 1)[0] + "\n", encoding="utf-8")
    cases = [
        (_truncated(path, tmp_path), ("cut.csv.gz is truncated: the compressed data stops in line",)),
        (_twice(path, tmp_path), ("twice.csv: columns named twice in the header: given_name",)),
        (old, ("old.csv: line 2 is not valid UTF-8; the file looks like cp1258", "--encoding cp1258")),
        (header_only, ("empty.csv holds no rows (it is empty, or has a header only)",)),
    ]
    for file, fragments in cases:
        for command in _commands(file, truth):
            result = run_dancu(*command)
            assert "Aborted" not in result.stdout + result.stderr
            one_line_error(result, *fragments)
    one_line_error(run_dancu("linkage", "run", str(path), "--encoding", "klingon", "--quiet"),
                   "unknown encoding 'klingon'")


def test_evaluate_refuses_a_bad_truth_file(city, tmp_path):
    path, truth = city
    text = truth.read_text(encoding="utf-8")
    twice = tmp_path / "truth-twice.csv"
    twice.write_text(text.replace("\n", ",entity_id\n", 1), encoding="utf-8")
    one_line_error(run_dancu("linkage", "evaluate", str(path), "--truth", str(twice), "--quiet"),
                   "truth-twice.csv: columns named twice in the header: entity_id")
    cut = tmp_path / "truth.csv.gz"
    packed = gzip.compress(text.encode() * 50)
    cut.write_bytes(packed[: len(packed) // 2])
    one_line_error(run_dancu("linkage", "evaluate", str(path), "--truth", str(cut), "--quiet"),
                   "truth.csv.gz is truncated")
    nameless = tmp_path / "nameless.csv"
    nameless.write_text("record,entity\n1,1\n", encoding="utf-8")
    one_line_error(run_dancu("linkage", "evaluate", str(path), "--truth", str(nameless), "--quiet"),
                   "nameless.csv: the header has no column record_id, entity_id")


def test_an_agency_extract_keeps_its_valid_rows(tmp_path):
    path = tmp_path / "land.csv"
    path.write_text("so_thua,chu_so_huu,ghi_chu\n"
                    "1,Nguyễn Văn An,\n"
                    f"2,Trần Thị Bình,{GIANT}\n"
                    '3,"Lê Văn Cúc,\n'
                    "4,Phạm Thị Dung,\n"
                    ",Võ Văn Em,\n", encoding="utf-8")
    rejected = []
    rows = agency.mapped_rows(path, {"so_thua": "record_id", "chu_so_huu": "full_name"}, rejected=rejected)
    assert [row["record_id"] for row in rows] == ["1", "4"]
    assert [(r.line, r.reason) for r in rejected] == [
        (3, "a field is longer than 131,072 characters"),
        (4, "a quote opened on this line is not closed (unbalanced quote)"),
        (6, "no so_thua"),
    ]
    twice = tmp_path / "twice.csv"
    twice.write_text("so_thua,chu_so_huu,so_thua\n1,An,1\n", encoding="utf-8")
    with pytest.raises(agency.AgencyError, match="twice.csv: columns named twice in the header: so_thua"):
        agency.mapped_rows(twice, {"so_thua": "record_id", "chu_so_huu": "full_name"})


def test_a_truth_file_in_cp1258_reads_with_its_encoding(tmp_path):
    truth = tmp_path / "truth.csv"
    truth.write_bytes(cp1258("record_id,entity_id,error_kinds\n1,a,\n2,a,lỗi đánh máy\n3,b,\n"))
    with pytest.raises(ValueError, match="line 3 is not valid UTF-8; the file looks like cp1258"):
        services.truth_pairs(truth)
    assert services.truth_pairs(truth, encoding="cp1258") == {("1", "2")}

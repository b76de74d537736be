"""An operator's mistake gives one line on stderr and exit status 2, never a traceback.

Each case runs the installed `dancu` command in its own process, as an
operator would: a database that was never migrated (for every common
command), a bad or unreachable DANCU_DATABASE_URL, a missing master key, a
file that does not exist, cannot be written or is not in the encoding given,
a missing argument or option.
"""

from __future__ import annotations

import gzip
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from test_smoke_cli import run_dancu

from dancu import crypto

PEOPLE_CSV = "record_id,family_name,given_name,sex\nr1,Nguyễn,An,M\nr2,Trần,Bình,F\n"


def one_line_error(result, *fragments: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def unmigrated_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, is_postgres: bool) -> Iterator[str]:
    """A new, empty database (and a master key), selected as `dancu` selects it."""
    monkeypatch.setenv("DANCU_DATA_DIR", str(tmp_path))
    # the key exists (as after `dancu db upgrade` elsewhere): what is missing is the schema
    monkeypatch.setenv("DANCU_KEY_FILE", str(crypto.ensure_master_key(tmp_path / "master.key")))
    if not is_postgres:
        url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
        monkeypatch.setenv("DANCU_DATABASE_URL", url)
        yield url
        return
    admin_url = os.environ["DANCU_TEST_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"dancu_empty_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("DANCU_DATABASE_URL", url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_every_common_command_on_a_database_never_migrated_says_what_to_run(unmigrated_url, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE_CSV, encoding="utf-8")
    for command in (
        ("seed", "--people", "20"),
        ("import", str(people), "--quiet"),
        ("export", str(tmp_path / "out.csv"), "--purpose", "sao lưu", "--quiet"),
        ("person", "search", "an", "--purpose", "kiểm tra"),
        ("quality", "report"),
        ("audit", "verify"),
    ):
        one_line_error(run_dancu(*command), "has no dancu tables yet", "run `dancu db upgrade` first")

    assert run_dancu("db", "upgrade").returncode == 0
    loaded = run_dancu("import", str(people), "--quiet")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr


@pytest.mark.parametrize(("url", "expected"), [
    ("not a url", "is not a database URL"),
    ("oracle+nosuchdriver://scott@db/orcl", "names an unknown database driver"),
    ("postgresql://dancu:secret@127.0.0.1:1/dancu", "cannot use the database"),
])
def test_a_bad_database_url_is_one_line(url, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("DANCU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DANCU_DATABASE_URL", url)
    for command in (("db", "upgrade"), ("person", "search", "an", "--purpose", "kiểm tra")):
        line = one_line_error(run_dancu(*command), expected)
        assert "secret" not in line  # the password never reaches a terminal or a log


def test_files_the_import_and_export_cannot_use(database_url, tmp_path):
    one_line_error(run_dancu("import", str(tmp_path / "nowhere.csv"), "--quiet"), "nowhere.csv' does not exist")
    one_line_error(run_dancu("import", "--quiet"), "Missing argument 'file'")
    one_line_error(run_dancu("export", str(tmp_path / "out.csv"), "--quiet"), "Missing option '--purpose'")

    unwritable = one_line_error(run_dancu("export", str(tmp_path / "no" / "dir" / "out.csv"), "--purpose",
                                          "sao lưu", "--quiet"), "No such file or directory")
    assert "out.csv" in unwritable

    old = tmp_path / "old.csv"
    old.write_bytes("record_id,family_name,given_name,sex\nr1,Đinh,Văn,M\n".encode("cp1258"))
    one_line_error(run_dancu("import", str(old), "--quiet"), "line 2 is not valid UTF-8", "--encoding cp1258")

    cut = tmp_path / "cut.csv.gz"
    packed = gzip.compress((PEOPLE_CSV + "".join(f"r{i},Lê,Cúc,F\n" for i in range(3, 5_000))).encode())
    cut.write_bytes(packed[: len(packed) // 2])
    result = run_dancu("import", str(cut), "--quiet")
    one_line_error(result, "cut.csv.gz is truncated: the compressed data stops in line")
    assert "Aborted" not in result.stdout + result.stderr


def test_a_missing_master_key_is_one_line(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DANCU_KEY_FILE", str(tmp_path / "elsewhere.key"))
    one_line_error(run_dancu("export", str(tmp_path / "out.csv"), "--purpose", "sao lưu", "--quiet"),
                   "Master key file", "not found")

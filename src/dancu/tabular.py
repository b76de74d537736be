"""Reading an operator's tabular file: CSV or JSON Lines, optionally gzipped.

One way to read every file an operator hands to dancu: a register import in
the exchange format (docs/data-format.md), a file to deduplicate, an agency's
extract to link, a ground truth to score against. The caller names the
columns it reads, which of them must be in the header, and whether other
columns refuse the file (the exchange format) or are ignored (an agency's
wider extract).

A file is checked whole before any row is read (`scan`): it must decode in
the declared encoding and, when compressed, be complete; otherwise it is
refused with the line at fault, and for a file that is not UTF-8 the encoding
it looks like. A whole-file fault never leaves half a file loaded. A header
naming a column twice, lacking a required column or (when closed) naming an
unknown one refuses the file too.

Rows are then read one record at a time (`records`). A fault confined to one
record rejects that record only: a field larger than `FIELD_LIMIT`, a wrong
number of fields, malformed JSON. An unbalanced quote in CSV would make every
later line part of one quoted field; a record that spans several physical
lines and comes out with the wrong number of fields (or grows past
`FIELD_LIMIT`) is taken for one, its first line is rejected and the lines after
it are read again as records of their own. `rows` does both for a caller that
wants dicts and a list of what was rejected.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# The exchange format's columns, in the order `export` writes them.
COLUMNS: tuple[str, ...] = (
    "record_id", "pin", "family_name", "middle_name", "given_name", "full_name", "other_names", "birth_date",
    "sex", "nationalities", "citizenship_basis", "naturalized_on", "ethnicity_code", "religion",
    "birth_place_status", "birth_registration_unit", "birth_country", "hometown_status", "hometown_unit",
    "father_record_id", "mother_record_id", "spouse_record_id", "status", "status_date",
    "permanent_unit", "permanent_address", "permanent_since", "household_code", "relationship_to_head",
    "temporary_unit", "temporary_address", "temporary_from", "temporary_until",
)

DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without the byte-order mark some editors write
# The csv module's own limit (128 KiB): no column of the format comes near it.
FIELD_LIMIT = csv.field_size_limit()
_TOO_LONG = f"a field is longer than {FIELD_LIMIT:,} characters"

# Vietnamese written in cp1258 (Windows) and Western text in latin-1 are the
# same bytes to a decoder; decoded as cp1258, Vietnamese text shows the
# combining tone marks and the letters ă, đ, ơ, ư that Western text lacks.
_VIETNAMESE = frozenset("\u0300\u0301\u0303\u0309\u0323ăĂđĐơƠưƯ")


def format_of(path: Path) -> str:
    suffixes = path.suffixes[-2:] if path.suffix == ".gz" else path.suffixes[-1:]
    kind = suffixes[0].lower() if suffixes else ""
    if kind == ".csv":
        return "csv"
    if kind in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"{path.name}: unknown format (expected .csv, .jsonl or .ndjson, optionally .gz)")


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r} (for example utf-8, cp1258, latin-1)") from None


def open_text(path: Path, encoding: str = DEFAULT_ENCODING) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def _looks_like(content: bytes, line: bytes) -> str:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "cp1258" if _VIETNAMESE & set(line.decode("cp1258", errors="replace")) else "latin-1"


def _not_decodable(path: Path, encoding: str, exc: UnicodeDecodeError, lines_before: int, first: bytes) -> ValueError:
    data: bytes = exc.object
    line_no = lines_before + data.count(b"\n", 0, exc.start) + 1
    start = data.rfind(b"\n", 0, exc.start) + 1
    end = data.find(b"\n", exc.start)
    guess = _looks_like(first, data[start:end if end >= 0 else len(data)])
    name = "UTF-8" if codecs.lookup(encoding).name in ("utf-8", "utf-8-sig") else encoding
    return ValueError(f"{path.name}: line {line_no} is not valid {name}; the file looks like {guess}: "
                      f"convert it to UTF-8 or import it with --encoding {guess}")


def scan(path: Path, encoding: str = DEFAULT_ENCODING) -> str:
    """Check that the whole file decodes and is complete; return the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    first = b""
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")) as content:
            # read1: a truncated stream fails after the data before the cut was counted
            while chunk := content.read1(1 << 16):
                first = first or chunk
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    raise _not_decodable(path, encoding, exc, lines, first) from None
                lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_decodable(path, encoding, exc, lines, first) from None
    except EOFError:
        raise ValueError(f"{path.name} is truncated: the compressed data stops in line {lines + 1}; "
                         "nothing was imported") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path.name} is not a readable gzip file (at line {lines + 1}: {exc})") from None
    return digest.hexdigest()


# A record is (line number where it starts, values in the layout's column order or None
# when the record cannot even be read, why not, the raw record). The raw CSV
# record stays a list of fields: it is serialised only if the row is rejected.
Record = tuple[int, list[str] | None, str, str | list[str]]


class _Unbalanced(Exception):
    """A record spread over several lines grew past FIELD_LIMIT."""


class _Lines:
    """The file's physical lines for the csv reader, counted, with the current record's lines kept
    so that they can be read again when the record turns out to be an unbalanced quote."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.replay: deque[str] = deque()
        self.record: list[str] = []
        self.size = 0
        self.number = 0  # lines handed out so far

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self.replay.popleft() if self.replay else next(self.handle)
        self.number += 1
        self.record.append(line)
        self.size += len(line)
        if self.size > FIELD_LIMIT and len(self.record) > 1:
            raise _Unbalanced
        return line

    def start_record(self) -> int:
        self.record, self.size = [], 0
        return self.number + 1

    def first(self) -> str:
        """The current record's first line, as the error report shows it."""
        return self.record[0].rstrip("\r\n")

    def reread_after_first(self) -> None:
        self.replay.extendleft(reversed(self.record[1:]))
        self.number -= len(self.record) - 1


@dataclass(frozen=True)
class Layout:
    """What a caller reads from a file: `columns` in this order (a column the file lacks reads as ""),
    `required` of them in the header, whether any other column refuses the file (`closed`), and the
    column every row must fill (`key`, checked by `rows`)."""

    columns: tuple[str, ...]
    required: tuple[str, ...] = ("record_id",)
    closed: bool = True
    key: str = "record_id"


# The exchange format as `dancu import` reads it: its columns only.
EXCHANGE = Layout(COLUMNS)


def _header(reader: Iterator[list[str]], layout: Layout) -> list[str] | None:
    try:
        header = next(reader)
    except StopIteration:
        return None
    except (csv.Error, _Unbalanced):
        raise ValueError("the header row cannot be read (a quote is not closed)") from None
    header = [name.strip() for name in header]
    named = [name for name in header if name]
    missing = [name for name in layout.required if name not in header]
    unknown = [name for name in named if name not in layout.columns] if layout.closed else []
    duplicated = sorted({name for name in named if named.count(name) > 1})
    if missing:
        raise ValueError(f"the header has no column {', '.join(missing)}")
    if unknown:
        raise ValueError(f"unknown columns in the header: {', '.join(unknown)}")
    if duplicated:
        raise ValueError(f"columns named twice in the header: {', '.join(duplicated)}")
    return header


def _csv_records(handle: IO[str], layout: Layout) -> Iterator[Record]:
    lines = _Lines(handle)
    reader = csv.reader(lines)
    header = _header(reader, layout)
    if header is None:
        return
    width = len(header)
    positions = [header.index(name) if name in header else None for name in layout.columns]
    # Identity order is the common case (files written by `export`): no reshuffle per row.
    identity = header == list(layout.columns)
    while True:
        start = lines.start_record()
        row, unreadable = None, ""
        try:
            row = next(reader)
        except StopIteration:
            return
        except _Unbalanced:
            pass
        except csv.Error as exc:
            unreadable = str(exc)
        if row is not None and len(row) == width:
            yield start, row if identity else ["" if p is None else row[p] for p in positions], "", row
        elif len(lines.record) > 1:
            yield start, None, "a quote opened on this line is not closed (unbalanced quote)", lines.first()
            lines.reread_after_first()
        elif row is None:
            reason = _TOO_LONG if "field limit" in unreadable else f"unreadable CSV: {unreadable}"
            yield start, None, reason, lines.first()
        elif row:
            yield start, None, f"expected {width} fields, found {len(row)}", row


def _jsonl_records(handle: IO[str], layout: Layout) -> Iterator[Record]:
    known = frozenset(layout.columns)
    for line_no, line in enumerate(handle, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield line_no, None, f"malformed JSON: {exc.msg} at column {exc.colno}", line
            continue
        if not isinstance(obj, dict):
            yield line_no, None, "a line must hold one JSON object", line
            continue
        unknown = [key for key in obj if key not in known] if layout.closed else []
        if unknown:
            yield line_no, None, f"unknown keys: {', '.join(unknown)}", line
            continue
        values = ["" if (v := obj.get(name)) is None else str(v) for name in layout.columns]
        if any(len(value) > FIELD_LIMIT for value in values):
            yield line_no, None, _TOO_LONG, line
            continue
        yield line_no, values, "", line


def records(path: Path, handle: IO[str], layout: Layout = EXCHANGE) -> Iterator[Record]:
    """The records of an opened file, values in ``layout.columns`` order; refuses a bad header (ValueError)."""
    return _csv_records(handle, layout) if format_of(path) == "csv" else _jsonl_records(handle, layout)


# A rejected record: (line where it starts, why).
Rejection = tuple[int, str]


def rows(path: Path, layout: Layout, encoding: str = DEFAULT_ENCODING,
         rejected: list[Rejection] | None = None) -> Iterator[dict[str, str]]:
    """Check the whole file (`scan`), then yield its rows as {column: value} for ``layout.columns``.

    A record that cannot be read is left out and added to ``rejected``;
    a row with a blank ``layout.key`` is rejected too. A fault of the
    whole file raises ValueError naming the file, before any row is yielded.
    """
    path = Path(path)
    format_of(path)
    encoding = check_encoding(encoding)
    scan(path, encoding)
    rejected = [] if rejected is None else rejected
    key = layout.columns.index(layout.key)
    with open_text(path, encoding) as handle:
        try:
            for line, values, reason, _raw in records(path, handle, layout):
                if values is not None and not values[key].strip():
                    reason = f"no {layout.key}"
                if reason:
                    rejected.append((line, reason))
                else:
                    yield dict(zip(layout.columns, values, strict=True))
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None

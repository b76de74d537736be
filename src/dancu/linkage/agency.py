"""Linking an agency's data set (civil status, health insurance, land parcels) to the register, and reconciling it.

An agency file (CSV or JSON Lines) has its own column names; a mapping
(``ho_ten=full_name``) names the exchange-format field each column holds.
Mapped rows are deduplicated together with the register by the same model
(trained on both, so that it learns how the two sources differ), and each
agency record is linked to the register person it matches best at or above
the threshold. Pairs within one source are not links and are left out.

The reconciliation of a data set says which records matched, which did not,
and on which fields a matched record disagrees with the register (a
different date of birth in health insurance, say): these are for the
agencies and the registrars to correct.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dancu import tabular
from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit.services import record_access, require_purpose
from dancu.linkage import services
from dancu.linkage.models import AgencyDataset, AgencyLink, AgencyRecord
from dancu.linkage.prepare import UnitNormaliser, prepare_table, read_rows
from dancu.linkage.review import REVIEWERS, explain_pairs
from dancu.linkage.schemas import (
    AgencyDatasetInfo,
    AgencyLinkView,
    LinkageOptions,
    MergedSource,
    PersonLinks,
    ReconciliationPage,
    ReconciliationRow,
    RejectedRow,
)
from dancu.registry import merge as registry_merge
from dancu.registry import services as registry
from dancu.registry.dates import PartialDate
from dancu.text import fold
from dancu.units import services as units

AGENCY_KINDS = ("civil_status", "health_insurance", "land_parcel")
# Exchange-format fields an agency column may be mapped to.
TARGET_FIELDS = ("record_id", "full_name", "family_name", "middle_name", "given_name", "birth_date", "sex", "pin",
                 "permanent_unit", "temporary_unit", "hometown_unit", "birth_registration_unit")
# Fields compared between a linked agency record and the register, in the report's order.
RECONCILED_FIELDS = ("full_name", "birth_date", "sex", "pin", "residence")
AGENCY_PREFIX = "a:"
STATUSES = ("matched", "conflicting", "unmatched")

_SEX = {"m": "M", "male": "M", "nam": "M", "f": "F", "female": "F", "nu": "F"}
_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$"), (1, 2, 3)),
    (re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$"), (3, 2, 1)),
    (re.compile(r"^(\d{1,2})[/.-](\d{4})$"), (2, 1, None)),
)


class AgencyError(ValueError):
    """An agency file or mapping that cannot be linked; the message says what to fix."""

    code = "linkage.agency_data_refused"


class DatasetNotFound(LookupError):
    code = "linkage.dataset_not_found"


# ---- mapping -----------------------------------------------------------------------------------


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["ho_ten=full_name", ...]`` -> {agency column: exchange field}; ``check_mapping`` says if it is complete."""
    mapping = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise AgencyError(f"mapping {item!r}: expected agency_column=field")
        mapping[source.strip()] = target.strip()
    return mapping


def load_mapping(path: Path) -> dict[str, str]:
    """A mapping file: a JSON object ``{"agency column": "field"}``."""
    try:
        mapping = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AgencyError(f"{Path(path).name}: not a JSON mapping in UTF-8 ({exc})") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise AgencyError(f"{Path(path).name}: expected a JSON object of column names to field names")
    return mapping


def check_mapping(mapping: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(mapping.values()) - set(TARGET_FIELDS))
    if unknown:
        raise AgencyError(f"unknown field(s) {', '.join(unknown)}; a column maps to one of {', '.join(TARGET_FIELDS)}")
    targets = list(mapping.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise AgencyError(f"more than one column is mapped to {', '.join(twice)}")
    if "record_id" not in targets:
        raise AgencyError("map one column to record_id (the agency's own record number)")
    if not {"full_name", "given_name"} & set(targets):
        raise AgencyError("map a column to full_name (or to family_name, middle_name and given_name)")
    return mapping


def _birth(text: str) -> str:
    """An agency's date (YYYY[-MM[-DD]], dd/mm/yyyy, mm/yyyy) as a partial ISO date; "" when not a date."""
    text = (text or "").strip()
    for pattern, (year, month, day) in _DATE_PATTERNS:
        if match := pattern.match(text):
            parts = [int(match[g]) if g and match[g] else None for g in (year, month, day)]
            date = PartialDate(*parts)
            return "" if date.impossibility() else date.iso()
    return ""


def _sex(text: str) -> str:
    return _SEX.get(fold(text or ""), "")


def mapped_rows(path: Path, mapping: dict[str, str], encoding: str = tabular.DEFAULT_ENCODING,
                rejected: list[RejectedRow] | None = None) -> list[dict[str, str]]:
    """The agency file's rows as exchange-format fields, dates and sex normalised.

    The file is read as `dancu import` reads one (``dancu.tabular``), with the
    mapped columns required in the header and other columns ignored. A row
    that cannot be read or has no record number is left out and added to
    ``rejected``; a fault of the whole file, or a record number given twice,
    refuses the file.
    """
    path = Path(path)
    record_column = next(source for source, target in mapping.items() if target == "record_id")
    layout = tabular.Layout(tuple(mapping), required=tuple(mapping), closed=False, key=record_column)
    found: list[tabular.Rejection] = []
    rows, seen = [], set()
    try:
        for raw in tabular.rows(path, layout, encoding, found):
            row = {target: raw[source].strip() for source, target in mapping.items()}
            if row["record_id"] in seen:
                raise AgencyError(f"{path.name}: record {row['record_id']} appears twice")
            seen.add(row["record_id"])
            row["birth_date"] = _birth(row.get("birth_date", ""))
            row["sex"] = _sex(row.get("sex", ""))
            row["pin"] = re.sub(r"\D", "", row.get("pin", ""))
            rows.append(row)
    except AgencyError:
        raise
    except ValueError as exc:
        raise AgencyError(str(exc)) from None
    if rejected is not None:
        rejected.extend(services.rejected_rows(path, found))
    if not rows:
        raise AgencyError(f"{path.name} holds no rows" + (f" (all {len(found):,} were rejected)" if found
                                                          else " (it is empty, or has a header only)"))
    return rows


# ---- linking ---------------------------------------------------------------------------------


def _name(row: dict[str, str]) -> str:
    return row.get("full_name") or " ".join(p for p in (row.get("family_name"), row.get("middle_name"),
                                                        row.get("given_name")) if p)


def _conflicts(agency: dict[str, str], person: dict[str, str], normalise: UnitNormaliser,
               labels: dict[str, str]) -> dict[str, list[str]]:
    """Fields both know and disagree on: names without accents or case, dates as far as both are known."""
    found = {}
    if _name(agency) and _name(person) and fold(_name(agency)) != fold(_name(person)):
        found["full_name"] = [_name(agency), _name(person)]
    ours, theirs = PartialDate.parse(person.get("birth_date") or ""), PartialDate.parse(agency["birth_date"])
    if ours.year and theirs.year:
        known = min(len(ours.iso()), len(theirs.iso()))
        if ours.iso()[:known] != theirs.iso()[:known]:
            found["birth_date"] = [theirs.display(), ours.display()]
    for field in ("sex", "pin"):
        if agency.get(field) and person.get(field) and agency[field] != person[field]:
            found[field] = [agency[field], person[field]]
    agency_unit = agency.get("permanent_unit") or agency.get("temporary_unit")
    person_unit = person.get("permanent_unit") or person.get("temporary_unit")
    agency_commune, person_commune = normalise(agency_unit)[0], normalise(person_unit)[0]
    if agency_commune and person_commune and agency_commune != person_commune:
        found["residence"] = [labels.get(agency_commune, agency_commune), labels.get(person_commune, person_commune)]
    return found


def link_dataset(session: Session, actor: Actor, *, path: Path, kind: str, name: str, mapping: dict[str, str],
                 purpose: str, options: LinkageOptions, steps: services.Steps | None = None,
                 encoding: str = tabular.DEFAULT_ENCODING) -> AgencyDatasetInfo:
    """Link an agency file (read in ``encoding``) to the register and store the data set, its records and
    its links; the answer lists the rows of the file left out. Commits."""
    actor.require(Role.ADMIN)
    if kind not in AGENCY_KINDS:
        raise AgencyError(f"kind must be one of {', '.join(AGENCY_KINDS)}")
    steps = steps or services.SilentSteps()
    started = time.perf_counter()
    rejected: list[RejectedRow] = []
    agency_rows = mapped_rows(path, check_mapping(mapping), encoding, rejected)
    normalise = UnitNormaliser(session)
    with tempfile.TemporaryDirectory(prefix="dancu-agency-") as workdir:
        steps.step("exporting the register")
        export = services.export_register(session, actor, purpose, Path(workdir))
        register = services.without_retired(session, services.prepare_file(session, export, steps))
        prefixed = [{**row, "record_id": AGENCY_PREFIX + row["record_id"]} for row in agency_rows]
        agency = prepare_table(prefixed, normalise)
        records = pa.concat_tables([register, agency])
        result = services.dedupe(records, options, steps)
        best: dict[str, services.ScoredPair] = {}
        for pair in result.matched(options.threshold):
            agency_side = [r for r in (pair.left_record, pair.right_record) if r.startswith(AGENCY_PREFIX)]
            if len(agency_side) != 1:
                continue
            held = best.get(agency_side[0])
            if held is None or pair.match_weight > held.match_weight:
                best[agency_side[0]] = pair
        person_of = {record: pair.left_record if pair.right_record == record else pair.right_record
                     for record, pair in best.items()}
        wanted = set(person_of.values())
        persons = {row["record_id"]: row for row in read_rows(export) if row["record_id"] in wanted}
    explained = explain_pairs(records, [(p.left_record, p.right_record) for p in best.values()], result.model)
    labels = _commune_labels(session, normalise, [*agency_rows, *persons.values()])

    steps.step("storing the links")
    dataset = AgencyDataset(kind=kind, name=name.strip()[:200] or Path(path).name, file_name=Path(path).name[:400],
                            mapping=json.dumps(mapping, ensure_ascii=False), actor=actor.username[:60],
                            linked_at=dt.datetime.now(dt.UTC), records=len(agency_rows), matched=len(best),
                            conflicting=0, threshold=options.threshold, seconds=0.0)
    session.add(dataset)
    session.flush()
    session.add_all(AgencyRecord(dataset_id=dataset.id, record_id=row["record_id"],
                                 fields=json.dumps(row, ensure_ascii=False)) for row in agency_rows)
    by_id = {AGENCY_PREFIX + row["record_id"]: row for row in agency_rows}
    conflicting = 0
    for record, pair in best.items():
        person_id = person_of[record]
        conflicts = _conflicts(by_id[record], persons[person_id], normalise, labels)
        conflicting += bool(conflicts)
        session.add(AgencyLink(dataset_id=dataset.id, record_id=record.removeprefix(AGENCY_PREFIX),
                               person_id=int(person_id), match_weight=pair.match_weight,
                               match_probability=pair.match_probability,
                               comparisons=json.dumps(explained[(pair.left_record, pair.right_record)],
                                                      ensure_ascii=False),
                               conflicts=json.dumps(conflicts, ensure_ascii=False)))
    dataset.conflicting = conflicting
    dataset.seconds = time.perf_counter() - started
    session.commit()
    return _info(dataset).model_copy(update={"rejected": rejected})


def _commune_labels(session: Session, normalise: UnitNormaliser, rows: list[dict[str, str]]) -> dict[str, str]:
    """Today's commune code -> its name, for the communes of these rows."""
    labels = {}
    for row in rows:
        for ref in (row.get("permanent_unit"), row.get("temporary_unit")):
            commune = normalise(ref)[0]
            if commune and commune not in labels:
                try:
                    labels[commune] = units.unit_label(units.resolve_unit_ref(session, commune))
                except units.UnitNotFound:
                    labels[commune] = commune
    return labels


# ---- reading: data sets, reconciliation, a person's links ----------------------------------------


def _info(dataset: AgencyDataset) -> AgencyDatasetInfo:
    return AgencyDatasetInfo(id=dataset.id, kind=dataset.kind, name=dataset.name, file_name=dataset.file_name,
                             mapping=json.loads(dataset.mapping), actor=dataset.actor, linked_at=dataset.linked_at,
                             records=dataset.records, matched=dataset.matched, conflicting=dataset.conflicting,
                             unmatched=dataset.records - dataset.matched, threshold=dataset.threshold,
                             seconds=dataset.seconds)


def list_datasets(session: Session, actor: Actor) -> list[AgencyDatasetInfo]:
    """Counts and settings only: no personal data."""
    actor.require(*REVIEWERS)
    return [_info(d) for d in session.scalars(select(AgencyDataset).order_by(AgencyDataset.id.desc()))]


def get_dataset(session: Session, dataset_id: int) -> AgencyDataset:
    dataset = session.get(AgencyDataset, dataset_id)
    if dataset is None:
        raise DatasetNotFound(f"no agency data set with id {dataset_id}")
    return dataset


def reconcile(session: Session, actor: Actor, dataset_id: int, purpose: str, status: str | None = None,
              page: int = 1, page_size: int | None = 50) -> ReconciliationPage:
    """The data set's records as matched, conflicting (matched, some field differs) or unmatched.

    The whole report is one bulk read of agency and register data: one access-log entry.
    ``page_size`` None gives every row (the CSV).
    """
    actor.require(Role.ADMIN, Role.AUDITOR)
    purpose = require_purpose(purpose)
    if status is not None and status not in STATUSES:
        raise AgencyError(f"status must be one of {', '.join(STATUSES)}")
    dataset = get_dataset(session, dataset_id)
    stmt = (select(AgencyRecord, AgencyLink).outerjoin(AgencyLink, (AgencyLink.dataset_id == AgencyRecord.dataset_id)
                                                       & (AgencyLink.record_id == AgencyRecord.record_id))
            .where(AgencyRecord.dataset_id == dataset.id))
    if status == "unmatched":
        stmt = stmt.where(AgencyLink.id.is_(None))
    elif status == "matched":
        stmt = stmt.where(AgencyLink.id.is_not(None), AgencyLink.conflicts == "{}")
    elif status == "conflicting":
        stmt = stmt.where(AgencyLink.id.is_not(None), AgencyLink.conflicts != "{}")
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(AgencyRecord.id)
    if page_size is not None:
        stmt = stmt.limit(page_size).offset((page - 1) * page_size)
    rows = []
    for record, link in session.execute(stmt):
        fields = json.loads(record.fields)
        conflicts = json.loads(link.conflicts) if link else {}
        rows.append(ReconciliationRow(
            record_id=record.record_id, full_name=_name(fields),
            birth_date=PartialDate.parse(fields.get("birth_date", "")).display(),
            status="unmatched" if link is None else "conflicting" if conflicts else "matched",
            person_id=link.person_id if link else None, match_probability=link.match_probability if link else None,
            conflicts=conflicts))
    record_access(session, actor, "linkage.reconcile", "agency_dataset", dataset.id, purpose,
                  detail=f"status={status or 'all'} page={page}")
    return ReconciliationPage(dataset=_info(dataset), status=status, items=rows, total=total, page=page,
                              page_size=page_size or max(total, 1))


def reconciliation_csv(report: ReconciliationPage) -> str:
    """One line per agency record; conflicting fields as ``field: agency value / register value``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("record_id", "status", "person_id", "match_probability", "full_name", "birth_date",
                     *(f"{field}_agency" for field in RECONCILED_FIELDS),
                     *(f"{field}_register" for field in RECONCILED_FIELDS)))
    for row in report.items:
        writer.writerow((row.record_id, row.status, row.person_id or "",
                         "" if row.match_probability is None else f"{row.match_probability:.6f}", row.full_name,
                         row.birth_date, *(row.conflicts.get(f, ["", ""])[0] for f in RECONCILED_FIELDS),
                         *(row.conflicts.get(f, ["", ""])[1] for f in RECONCILED_FIELDS)))
    return out.getvalue()


def links_of_person(session: Session, actor: Actor, person_id: int, purpose: str) -> PersonLinks:
    """Agency records linked to a person and to the records merged into it, and those merged records
    (the person's other sources).

    The person is read through the registry first: its scope check and access log apply.
    """
    person = registry.get_person(session, actor, person_id, purpose)
    merges = [m for m in registry_merge.merges_of(session, person.id) if m.survivor_id == person.id]
    ids = {person.id} | {m.retired_id for m in merges if m.undone_at is None}
    found = session.execute(select(AgencyLink, AgencyDataset, AgencyRecord)
                            .join(AgencyDataset, AgencyDataset.id == AgencyLink.dataset_id)
                            .join(AgencyRecord, (AgencyRecord.dataset_id == AgencyLink.dataset_id)
                                  & (AgencyRecord.record_id == AgencyLink.record_id))
                            .where(AgencyLink.person_id.in_(ids)).order_by(AgencyDataset.id, AgencyLink.id))
    links = [AgencyLinkView(dataset_id=d.id, kind=d.kind, dataset_name=d.name, record_id=link.record_id,
                            person_id=link.person_id, full_name=_name(json.loads(r.fields)),
                            birth_date=PartialDate.parse(json.loads(r.fields).get("birth_date", "")).display(),
                            match_probability=link.match_probability, conflicts=json.loads(link.conflicts))
             for link, d, r in found]
    sources = []
    for m in merges:
        retired = registry_merge.retired_record(m)
        birth = PartialDate(retired["birth_year"], retired["birth_month"], retired["birth_day"])
        sources.append(MergedSource(merge_id=m.id, retired_id=m.retired_id, full_name=retired["full_name"],
                                    birth_date=birth.display(), pin=retired["pin"], source_ref=retired["source_ref"],
                                    merged_at=m.merged_at, actor=m.actor, origin=m.origin, undone_at=m.undone_at))
    return PersonLinks(person_id=person.id, links=links, merged=sources)

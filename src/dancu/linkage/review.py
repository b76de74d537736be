"""Clerical review: the match weight of a pair explained per comparison, the queue, decisions, merges.

A pair's weight is the sum of the prior's weight and one weight per
comparison (log2 of the Bayes factor m/u of the level the pair falls in,
plus the term-frequency adjustment of exact name and commune levels). They
are computed from the trained model stored with the run, on the records the
run scored, and stored with each pair; ``explain_pairs`` reproduces Splink's
own match weight (tests hold it to 1e-6).

Decisions are append-only (the latest one counts) and logged in the access
log. A "match" on two persons of the register may be merged into one
through ``dancu.registry.merge``; the merge can be undone.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable

import duckdb
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.audit.services import record_access, record_accesses, require_purpose
from dancu.db import lock_row
from dancu.linkage import model as linkage_model
from dancu.linkage.models import LinkageDecision, LinkagePair, LinkageRecord, LinkageRun
from dancu.linkage.schemas import (
    ComparisonWeight,
    DecisionEvaluation,
    DecisionView,
    PairDetail,
    PairPage,
    PairQuery,
    PairRow,
    RecordSide,
)
from dancu.registry import merge as registry_merge
from dancu.registry import services as registry
from dancu.registry.dates import PartialDate
from dancu.text import fold
from dancu.units import services as units

REVIEWERS = (Role.REGISTRAR, Role.ADMIN, Role.AUDITOR)
DECIDERS = (Role.REGISTRAR, Role.ADMIN)
DECISIONS = ("match", "non_match", "unsure")
REGISTER_SOURCE = "register"
# The fields a reviewer compares, in the order they are shown.
SIDE_FIELDS = ("full_name", "birth_date", "sex", "pin", "residence", "hometown", "birth_place")


class ReviewError(ValueError):
    """A review action refused; the message is for the user."""

    code = "linkage.review_refused"


class PairNotFound(LookupError):
    code = "linkage.pair_not_found"


# ---- the match weight explained ----------------------------------------------------------------


def _exact_u(levels: list[dict], column: str, level: dict) -> float:
    """u of the comparison's exact-match level on ``column``: Splink's base for term-frequency adjustments."""
    exact = f'"{column}_l" = "{column}_r"'
    for candidate in levels:
        if candidate.get("sql_condition", "").strip() == exact:
            return candidate["u_probability"]
    return level["u_probability"]


def prior_weight(model: dict) -> float:
    p = model["probability_two_random_records_match"]
    return math.log2(p / (1 - p))


def explain_pairs(records: pa.Table, pairs: Iterable[tuple[str, str]], model: dict) -> dict[tuple[str, str], list[dict]]:
    """Per-comparison weights of ``pairs`` (record ids) under a trained model (``DedupeModel.model_json()``).

    Each is ``{"comparison", "level", "weight", "tf"}``; ``prior_weight(model)``
    plus every ``weight + tf`` is the pair's match weight.
    """
    pairs = list(pairs)
    if not pairs:
        return {}
    comparisons = model["comparisons"]
    tf_columns = sorted({level["tf_adjustment_column"] for c in comparisons for level in c["comparison_levels"]
                         if level.get("tf_adjustment_column")})
    # the model may compare a copy of unique_id under another name (see DedupeModel): give it the same copy
    own_id = getattr(linkage_model, "OWN_ID", None)
    if own_id and own_id not in records.column_names:
        records = records.append_column(own_id, records["unique_id"])
    columns = records.column_names
    sides = ", ".join(f'{alias}."{c}" AS "{c}_{side}"' for c in columns for alias, side in (("a", "l"), ("b", "r")))
    tf_ctes = ", ".join(
        f'tf_{c} AS (SELECT "{c}" AS v, count(*)::DOUBLE / (SELECT count("{c}") FROM records) AS tf '
        f'FROM records GROUP BY "{c}")' for c in tf_columns)
    tf_select = "".join(f', tf_{c}_l.tf AS "tf_{c}_l", tf_{c}_r.tf AS "tf_{c}_r"' for c in tf_columns)
    tf_joins = "".join(f' LEFT JOIN tf_{c} tf_{c}_l ON tf_{c}_l.v = a."{c}" '
                       f'LEFT JOIN tf_{c} tf_{c}_r ON tf_{c}_r.v = b."{c}"' for c in tf_columns)
    cases = []
    for index, comparison in enumerate(comparisons):
        whens = " ".join(f"ELSE {n}" if level["sql_condition"].strip() == "ELSE"
                         else f"WHEN {level['sql_condition']} THEN {n}"
                         for n, level in enumerate(comparison["comparison_levels"]))
        cases.append(f"CASE {whens} END AS g{index}")
    tf_out = "".join(f', "tf_{c}_l", "tf_{c}_r"' for c in tf_columns)
    sql = (f"WITH {tf_ctes + ', ' if tf_ctes else ''}"
           f"compared AS (SELECT p.l AS pair_l, p.r AS pair_r, {sides}{tf_select} FROM pairs p "
           f"JOIN records a ON a.unique_id = p.l JOIN records b ON b.unique_id = p.r{tf_joins}) "
           f"SELECT pair_l, pair_r, {', '.join(cases)}{tf_out} FROM compared")
    with duckdb.connect(":memory:") as connection:
        connection.register("records", records)
        connection.register("pairs", pa.table({"l": [p[0] for p in pairs], "r": [p[1] for p in pairs]}))
        rows = connection.execute(sql).fetchall()
    explained = {}
    for row in rows:
        gammas = row[2:2 + len(comparisons)]
        tfs = dict(zip([f"{c}_{s}" for c in tf_columns for s in "lr"], row[2 + len(comparisons):], strict=True))
        explained[(row[0], row[1])] = [_level_weight(comparison, gamma, tfs)
                                       for comparison, gamma in zip(comparisons, gammas, strict=True)]
    return explained


def _level_weight(comparison: dict, gamma: int, tfs: dict) -> dict:
    levels = comparison["comparison_levels"]
    level = levels[gamma]
    weight = tf = 0.0
    if not level.get("is_null_level"):
        weight = math.log2(level["m_probability"] / level["u_probability"])
        column = level.get("tf_adjustment_column")
        if column and level.get("tf_adjustment_weight", 1.0):
            known = [v for v in (tfs[f"{column}_l"], tfs[f"{column}_r"]) if v is not None]
            if known:
                term = max(*known, level.get("tf_minimum_u_value", 0.0))
                tf = level.get("tf_adjustment_weight", 1.0) * (math.log2(_exact_u(levels, column, level))
                                                               - math.log2(term))
    return {"comparison": comparison["output_column_name"], "level": level["label_for_charts"],
            "weight": round(weight, 9), "tf": round(tf, 9)}


# ---- the queue ----------------------------------------------------------------------------------


def _latest_decisions(pair_ids: list[int], session: Session) -> dict[int, LinkageDecision]:
    if not pair_ids:
        return {}
    latest = (select(func.max(LinkageDecision.id)).where(LinkageDecision.pair_id.in_(pair_ids))
              .group_by(LinkageDecision.pair_id))
    return {d.pair_id: d for d in session.scalars(select(LinkageDecision).where(LinkageDecision.id.in_(latest)))}


def _comparisons(pair: LinkagePair) -> list[ComparisonWeight]:
    return [ComparisonWeight(**c) for c in json.loads(pair.comparisons or "[]")]


def list_pairs(session: Session, actor: Actor, query: PairQuery) -> PairPage:
    """Stored pairs, strongest first. Ids, weights and decisions only: no personal data, so no purpose."""
    actor.require(*REVIEWERS)
    stmt = select(LinkagePair)
    if query.run_id is not None:
        stmt = stmt.where(LinkagePair.run_id == query.run_id)
    if query.min_weight is not None:
        stmt = stmt.where(LinkagePair.match_weight >= query.min_weight)
    if query.max_weight is not None:
        stmt = stmt.where(LinkagePair.match_weight < query.max_weight)
    if query.undecided:
        stmt = stmt.where(LinkagePair.id.not_in(select(LinkageDecision.pair_id)))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pairs = session.scalars(stmt.order_by(LinkagePair.match_weight.desc(), LinkagePair.id)
                            .limit(query.page_size).offset((query.page - 1) * query.page_size)).all()
    decisions = _latest_decisions([p.id for p in pairs], session)
    return PairPage(
        items=[PairRow(id=p.id, run_id=p.run_id, left_record=p.left_record, right_record=p.right_record,
                       match_weight=p.match_weight, match_probability=p.match_probability,
                       decision=decisions[p.id].decision if p.id in decisions else None, merge_id=p.merge_id,
                       against=[c.comparison for c in _comparisons(p) if c.weight + c.tf < 0])
               for p in pairs],
        total=total, page=query.page, page_size=query.page_size)


def _pair(session: Session, pair_id: int, lock: bool = False) -> tuple[LinkagePair, LinkageRun]:
    """The pair and its run; ``lock`` for a decision or a merge, so that two reviewers acting on one pair at
    once are serialised (a merge never goes through on a "match" another reviewer has just overruled)."""
    pair = lock_row(session, LinkagePair, pair_id) if lock else session.get(LinkagePair, pair_id)
    if pair is None:
        raise PairNotFound(f"no linkage pair with id {pair_id}")
    return pair, session.get(LinkageRun, pair.run_id)


def _unit_text(session: Session, refs: dict[str, int], ref: str | None) -> str:
    unit_id = refs.get((ref or "").strip())
    return units.unit_label(session, unit_id) if unit_id else (ref or "")


def _register_side(session: Session, actor: Actor, person_id: int, purpose: str) -> RecordSide:
    person = registry.get_person(session, actor, person_id, purpose)
    residence = next((r.unit_label for r in person.residences if r.kind == "permanent" and r.valid_to is None), "")
    return RecordSide(record_id=str(person_id), person_id=person.id, redirected=person.redirected_from is not None,
                      fields={"full_name": person.full_name, "birth_date": person.birth_date or "",
                              "sex": person.sex.value if person.sex else "", "pin": person.pin or "",
                              "residence": residence, "hometown": person.hometown_unit_label or "",
                              "birth_place": person.birth_registration_unit_label or ""})


def file_side_fields(session: Session, row: dict, refs: dict[str, int]) -> dict[str, str]:
    """An exchange-format row as the fields a reviewer compares."""
    name = row.get("full_name") or " ".join(p for p in (row.get("family_name"), row.get("middle_name"),
                                                        row.get("given_name")) if p)
    try:
        birth = PartialDate.parse(row.get("birth_date") or "").display()
    except ValueError:
        birth = row.get("birth_date") or ""
    return {"full_name": name or "", "birth_date": birth, "sex": row.get("sex") or "",
            "pin": row.get("pin") or "",
            "residence": _unit_text(session, refs, row.get("permanent_unit") or row.get("temporary_unit")),
            "hometown": _unit_text(session, refs, row.get("hometown_unit")),
            "birth_place": _unit_text(session, refs, row.get("birth_registration_unit"))}


def _file_side(session: Session, run_id: int, record_id: str) -> RecordSide:
    stored = session.scalar(select(LinkageRecord).where(LinkageRecord.run_id == run_id,
                                                        LinkageRecord.record_id == record_id))
    fields = json.loads(stored.fields) if stored else {}
    return RecordSide(record_id=record_id, person_id=None, redirected=False,
                      fields={name: fields.get(name, "") for name in SIDE_FIELDS})


def differing(left: dict[str, str], right: dict[str, str]) -> list[str]:
    """Fields both sides know and disagree on, compared without accents, case or spacing."""
    return [name for name in SIDE_FIELDS
            if left.get(name) and right.get(name) and fold(left[name]) != fold(right[name])]


def get_pair(session: Session, actor: Actor, pair_id: int, purpose: str) -> PairDetail:
    """A pair side by side. Persons of the register are read through the registry (scope checked, logged);
    records of a file run are read from the run and the read is logged here."""
    actor.require(*REVIEWERS)
    purpose = require_purpose(purpose)
    pair, run = _pair(session, pair_id)
    if run.source == REGISTER_SOURCE:
        left, right = (_register_side(session, actor, int(r), purpose) for r in (pair.left_record, pair.right_record))
    else:
        left, right = (_file_side(session, run.id, r) for r in (pair.left_record, pair.right_record))
        record_accesses(session, actor, "linkage.review", "linkage_record",
                        [f"{run.id}/{pair.left_record}", f"{run.id}/{pair.right_record}"], purpose,
                        detail=f"pair={pair.id}")
    history = session.scalars(select(LinkageDecision).where(LinkageDecision.pair_id == pair.id)
                              .order_by(LinkageDecision.id.desc())).all()
    model = json.loads(run.model)
    return PairDetail(
        id=pair.id, run_id=run.id, source=run.source, of_register=run.source == REGISTER_SOURCE,
        match_weight=pair.match_weight, match_probability=pair.match_probability, threshold=run.threshold,
        prior_weight=prior_weight(model) if "probability_two_random_records_match" in model else 0.0,
        comparisons=_comparisons(pair), left=left, right=right, differing=differing(left.fields, right.fields),
        decisions=[_decision_view(d) for d in history], merge_id=pair.merge_id)


def _decision_view(decision: LinkageDecision) -> DecisionView:
    return DecisionView(id=decision.id, pair_id=decision.pair_id, decision=decision.decision, actor=decision.actor,
                        decided_at=decision.decided_at, note=decision.note)


def decide(session: Session, actor: Actor, pair_id: int, decision: str, note: str = "") -> DecisionView:
    """Record a reviewer's verdict (who, when) and log it. Flushes; the caller commits."""
    actor.require(*DECIDERS)
    if decision not in DECISIONS:
        raise ReviewError(f"decision must be one of {', '.join(DECISIONS)}")
    pair, _run = _pair(session, pair_id, lock=True)
    row = LinkageDecision(pair_id=pair.id, decision=decision, actor=actor.username,
                          decided_at=dt.datetime.now(dt.UTC), note=(note or "").strip()[:500])
    session.add(row)
    session.flush()
    record_access(session, actor, "linkage.decide", "linkage_pair", pair.id, "clerical review of a linkage pair",
                  detail=decision)
    return _decision_view(row)


def _latest(session: Session, pair: LinkagePair) -> str | None:
    found = _latest_decisions([pair.id], session).get(pair.id)
    return found.decision if found else None


def merge_pair(session: Session, actor: Actor, pair_id: int, survivor_id: int | None, reason: str) -> int:
    """Merge the two persons of a pair decided "match" (``survivor_id``: which one stays, default the older
    record). Returns the merge id. Flushes; the caller commits."""
    actor.require(*DECIDERS)
    pair, run = _pair(session, pair_id, lock=True)
    if run.source != REGISTER_SOURCE:
        raise ReviewError("only pairs of a register run are persons that can be merged")
    if _latest(session, pair) != "match":
        raise ReviewError("decide that the pair is a match before merging it")
    if pair.merge_id is not None:
        raise ReviewError("this pair is already merged")
    ids = (int(pair.left_record), int(pair.right_record))
    survivor_id = min(ids) if survivor_id is None else survivor_id
    if survivor_id not in ids:
        raise ReviewError("the surviving record must be one of the pair")
    retired_id = ids[1] if survivor_id == ids[0] else ids[0]
    merge = registry_merge.merge_persons(session, actor, survivor_id, retired_id, reason, origin=f"linkage pair {pair.id}")
    pair.merge_id = merge.id
    session.flush()
    return merge.id


def undo_pair_merge(session: Session, actor: Actor, pair_id: int, reason: str) -> int:
    actor.require(*DECIDERS)
    pair, _run = _pair(session, pair_id, lock=True)
    if pair.merge_id is None:
        raise ReviewError("this pair is not merged")
    merge = registry_merge.undo_merge(session, actor, pair.merge_id, reason)
    pair.merge_id = None
    session.flush()
    return merge.id


# ---- decisions as labels -----------------------------------------------------------------------


def decision_labels(session: Session, run_id: int) -> dict[tuple[str, str], bool]:
    """(left, right) -> is a match, for the pairs of a run decided match or not a match (unsure ones are left out)."""
    pairs = {p.id: p for p in session.scalars(select(LinkagePair).where(LinkagePair.run_id == run_id))}
    decisions = _latest_decisions(list(pairs), session)
    return {(pairs[i].left_record, pairs[i].right_record): d.decision == "match"
            for i, d in decisions.items() if d.decision != "unsure"}


def evaluate_run(session: Session, run_id: int, threshold: float | None = None) -> DecisionEvaluation:
    """The run's predictions (probability >= threshold, default the run's) scored against its decisions."""
    run = session.get(LinkageRun, run_id)
    if run is None:
        raise PairNotFound(f"no linkage run with id {run_id}")
    threshold = run.threshold if threshold is None else threshold
    labels = decision_labels(session, run_id)
    probabilities = {(left, right): probability for left, right, probability in session.execute(
        select(LinkagePair.left_record, LinkagePair.right_record, LinkagePair.match_probability)
        .where(LinkagePair.run_id == run_id))}
    predicted = {pair for pair in labels if probabilities[pair] >= threshold}
    matches = {pair for pair, is_match in labels.items() if is_match}
    hits = len(predicted & matches)
    precision = hits / len(predicted) if predicted else float(not matches)
    recall = hits / len(matches) if matches else float(not predicted)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return DecisionEvaluation(run_id=run_id, threshold=threshold, decided_pairs=len(labels),
                              decided_matches=len(matches), predicted_matches=len(predicted), true_positives=hits,
                              precision=precision, recall=recall, f1=f1)

"""Options and results of linkage runs, review, merges and agency data sets: shared by the CLI, the API and the pages."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class LinkageOptions(BaseModel):
    """How a data set is deduplicated.

    ``threshold``: match probability from which a pair is a duplicate (and
    clustered). ``review_threshold``: lowest probability of a pair that is
    kept, for clerical review of the pairs between the two.
    """

    threshold: float = Field(0.95, gt=0, lt=1)
    review_threshold: float = Field(0.5, gt=0, lt=1)
    threads: int | None = Field(None, ge=1, description="DuckDB threads (default: one per core)")
    engine: Literal["duckdb", "spark"] = Field("duckdb", description="duckdb (one machine) or spark (pyspark, Java)")
    seed: int = 42
    u_sample_pairs: float = Field(1e6, gt=0, description="random pairs sampled to estimate u")
    em_max_pairs: float = Field(5e6, gt=0, description="at most this many pairs per EM round")

    @model_validator(mode="after")
    def _review_below_threshold(self) -> LinkageOptions:
        if self.review_threshold > self.threshold:
            raise ValueError("review_threshold must not exceed threshold")
        return self


class RejectedRow(BaseModel):
    """A row of an input file left out because it cannot be read; the file's other rows were used."""

    file: str
    line: int = Field(description="line of the file where the row starts")
    reason: str


class RunSummary(BaseModel):
    run_id: int
    source: str
    records: int
    candidate_pairs: int
    matched_pairs: int
    review_pairs: int
    clusters: int
    duplicate_records: int
    seconds: float
    pairs_per_second: float
    pairs_csv: str
    clusters_csv: str
    rejected: list[RejectedRow] = Field(default_factory=list)


class RunInfo(BaseModel):
    """A stored run, as listed: no personal data, only counts and settings."""

    id: int
    source: str
    actor: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    records: int
    candidate_pairs: int
    matched_pairs: int
    clusters: int
    threshold: float
    review_threshold: float
    seconds: float


class Evaluation(BaseModel):
    """Pairwise duplicate detection scored against a ground truth."""

    records: int
    true_pairs: int
    candidate_pairs: int
    blocking_recall: float = Field(description="share of true pairs among the candidate pairs")
    predicted_pairs: int
    true_positives: int
    precision: float
    recall: float
    f1: float
    threshold: float
    scoring_seconds: float
    pairs_per_second: float
    wall_seconds: float
    rejected: list[RejectedRow] = Field(default_factory=list, description="rows of the file and the truth left out")


# ---- clerical review ---------------------------------------------------------------------------

Decision = Literal["match", "non_match", "unsure"]


class ComparisonWeight(BaseModel):
    """One bar of a pair's waterfall: the level a comparison put the pair in and its weight (log2 Bayes factor)."""

    comparison: str
    level: str
    weight: float
    tf: float = Field(0.0, description="term-frequency adjustment (a common name counts for less)")


class PairQuery(BaseModel):
    run_id: int | None = Field(None, ge=1, le=2**31 - 1)
    min_weight: float | None = Field(None, ge=-1000, le=1000)
    max_weight: float | None = Field(None, ge=-1000, le=1000)
    undecided: bool = False
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=200)


class PairRow(BaseModel):
    """A pair in the queue: ids, weights and decision only, no personal data."""

    id: int
    run_id: int
    left_record: str
    right_record: str
    match_weight: float
    match_probability: float
    decision: Decision | None
    merge_id: int | None
    against: list[str] = Field(description="comparisons that count against a match")


class PairPage(BaseModel):
    items: list[PairRow]
    total: int
    page: int
    page_size: int


class RecordSide(BaseModel):
    record_id: str
    person_id: int | None
    redirected: bool = Field(description="the record was merged into person_id since the run")
    fields: dict[str, str]


class DecisionView(BaseModel):
    id: int
    pair_id: int
    decision: Decision
    actor: str
    decided_at: dt.datetime
    note: str


class PairDetail(BaseModel):
    id: int
    run_id: int
    source: str
    of_register: bool = Field(description="the records are persons of the register (a merge is possible)")
    match_weight: float
    match_probability: float
    threshold: float
    prior_weight: float
    comparisons: list[ComparisonWeight]
    left: RecordSide
    right: RecordSide
    differing: list[str]
    decisions: list[DecisionView]
    merge_id: int | None


class DecisionInput(BaseModel):
    decision: Decision
    note: str = Field("", max_length=500)


class MergeInput(BaseModel):
    survivor_id: int | None = Field(None, ge=1, le=2**63 - 1, description="the record that stays (default the older)")
    reason: str = Field(..., min_length=3, max_length=500)


class UndoInput(BaseModel):
    reason: str = Field(..., min_length=3, max_length=500)


class MergeResult(BaseModel):
    pair_id: int
    merge_id: int
    undone: bool


class DecisionEvaluation(BaseModel):
    """A run's predictions scored against its clerical decisions (pairs decided match / not a match)."""

    run_id: int
    threshold: float
    decided_pairs: int
    decided_matches: int
    predicted_matches: int
    true_positives: int
    precision: float
    recall: float
    f1: float


# ---- agency data sets -------------------------------------------------------------------------


class AgencyDatasetInfo(BaseModel):
    """A linked agency data set: settings and counts, no personal data."""

    id: int
    kind: str
    name: str
    file_name: str
    mapping: dict[str, str]
    actor: str
    linked_at: dt.datetime
    records: int
    matched: int
    conflicting: int
    unmatched: int
    threshold: float
    seconds: float
    rejected: list[RejectedRow] = Field(default_factory=list,
                                        description="rows of the file left out when it was linked (not stored)")


class ReconciliationRow(BaseModel):
    record_id: str
    full_name: str
    birth_date: str
    status: Literal["matched", "conflicting", "unmatched"]
    person_id: int | None
    match_probability: float | None
    conflicts: dict[str, list[str]] = Field(description="field -> [agency value, register value]")


class ReconciliationPage(BaseModel):
    dataset: AgencyDatasetInfo
    status: str | None
    items: list[ReconciliationRow]
    total: int
    page: int
    page_size: int


class AgencyLinkView(BaseModel):
    """An agency record linked to a person (shown on the person page)."""

    dataset_id: int
    kind: str
    dataset_name: str
    record_id: str
    person_id: int
    full_name: str
    birth_date: str
    match_probability: float
    conflicts: dict[str, list[str]]


class MergedSource(BaseModel):
    """A record merged into a person: its own data as it was, kept as a source."""

    merge_id: int
    retired_id: int
    full_name: str
    birth_date: str
    pin: str | None
    source_ref: str | None
    merged_at: dt.datetime
    actor: str
    origin: str
    undone_at: dt.datetime | None


class PersonLinks(BaseModel):
    person_id: int
    links: list[AgencyLinkView]
    merged: list[MergedSource]

"""Options and results of linkage runs, shared by the CLI (and a future API)."""

from __future__ import annotations

import datetime as dt

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
    seed: int = 42
    u_sample_pairs: float = Field(1e6, gt=0, description="random pairs sampled to estimate u")
    em_max_pairs: float = Field(5e6, gt=0, description="at most this many pairs per EM round")

    @model_validator(mode="after")
    def _review_below_threshold(self) -> LinkageOptions:
        if self.review_threshold > self.threshold:
            raise ValueError("review_threshold must not exceed threshold")
        return self


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

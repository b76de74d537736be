"""Linkage runs, their scored pairs and clerical decisions; agency data sets and their links."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dancu.db import Base

BigId = BigInteger().with_variant(Integer, "sqlite")


class LinkageRun(Base):
    """One deduplication of a data set: what was read, how it was scored, what was found."""

    __tablename__ = "linkage_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(400))
    actor: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    records: Mapped[int] = mapped_column(BigInteger)
    candidate_pairs: Mapped[int] = mapped_column(BigInteger)
    # match probability from which a pair is a duplicate, and from which it is kept for review
    threshold: Mapped[float] = mapped_column(Float)
    review_threshold: Mapped[float] = mapped_column(Float)
    matched_pairs: Mapped[int] = mapped_column(BigInteger)
    clusters: Mapped[int] = mapped_column(BigInteger)
    seconds: Mapped[float] = mapped_column(Float)
    # the trained Splink model (JSON): the parameters behind every stored weight
    model: Mapped[str] = mapped_column(Text)


class LinkagePair(Base):
    """A candidate pair of a run at or above its review threshold.

    Records are named by the source's ``record_id`` (a person id when the run
    read the register), left < right.
    """

    __tablename__ = "linkage_pair"
    __table_args__ = (Index("ix_linkage_pair_run_weight", "run_id", "match_weight"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("linkage_run.id", ondelete="CASCADE"))
    left_record: Mapped[str] = mapped_column(String(80))
    right_record: Mapped[str] = mapped_column(String(80))
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float)
    # JSON list of {"comparison", "level", "weight", "tf"}: the match weight explained per comparison
    comparisons: Mapped[str | None] = mapped_column(Text)
    # the registry merge made from this pair, while it stands
    merge_id: Mapped[int | None] = mapped_column(BigId)


class LinkageRecord(Base):
    """What the model compared for one record of a stored pair: the reviewer's side-by-side view.

    Kept only for records that are in a stored pair, as the exchange-format
    fields the model read (JSON), so that a decision is taken on the data
    that was scored; reading it is logged like any read of personal data.
    """

    __tablename__ = "linkage_record"
    __table_args__ = (Index("ix_linkage_record_run_record", "run_id", "record_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("linkage_run.id", ondelete="CASCADE"))
    record_id: Mapped[str] = mapped_column(String(80))
    fields: Mapped[str] = mapped_column(Text)


class LinkageDecision(Base):
    """A clerical reviewer's verdict on a pair. Append-only: the latest one counts, earlier ones are history."""

    __tablename__ = "linkage_decision"
    __table_args__ = (Index("ix_linkage_decision_pair", "pair_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pair_id: Mapped[int] = mapped_column(ForeignKey("linkage_pair.id", ondelete="CASCADE"))
    decision: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(60))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(500), default="")


class AgencyDataset(Base):
    """An external agency's data set linked against the register, with the column mapping it was read with."""

    __tablename__ = "agency_dataset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    name: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(400))
    mapping: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(60))
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    records: Mapped[int] = mapped_column(BigInteger)
    matched: Mapped[int] = mapped_column(BigInteger)
    conflicting: Mapped[int] = mapped_column(BigInteger)
    threshold: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)


class AgencyRecord(Base):
    """One row of an agency data set, in exchange-format fields after the mapping (JSON)."""

    __tablename__ = "agency_record"
    __table_args__ = (Index("ix_agency_record_dataset_record", "dataset_id", "record_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("agency_dataset.id", ondelete="CASCADE"))
    record_id: Mapped[str] = mapped_column(String(80))
    fields: Mapped[str] = mapped_column(Text)


class AgencyLink(Base):
    """An agency record matched to a person of the register, with the fields on which the two disagree.

    ``conflicts`` is JSON ``{field: [agency value, register value]}``, taken when the link was made.
    """

    __tablename__ = "agency_link"
    __table_args__ = (
        Index("ix_agency_link_person", "person_id"),
        Index("ix_agency_link_dataset_record", "dataset_id", "record_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("agency_dataset.id", ondelete="CASCADE"))
    record_id: Mapped[str] = mapped_column(String(80))
    person_id: Mapped[int] = mapped_column(BigId)
    match_weight: Mapped[float] = mapped_column(Float)
    match_probability: Mapped[float] = mapped_column(Float)
    comparisons: Mapped[str] = mapped_column(Text)
    conflicts: Mapped[str] = mapped_column(Text)

"""Linkage runs and the candidate pairs they scored, kept for clerical review and merges."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text
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

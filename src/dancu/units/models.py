"""Administrative units and their successions across reforms.

A reform is data, not code: each set of units carries the scheme it belongs to
and the dates it is in force; a succession row says which new unit took over an
old one. The 2025 reform (63 -> 34 provinces, districts abolished) is loaded
by a data migration; the next reform will be another one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dancu.db import Base


class UnitScheme(Base):
    """A set of administrative units in force over a period (e.g. "2025")."""

    __tablename__ = "unit_scheme"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    has_districts: Mapped[bool] = mapped_column(Boolean)
    legal_basis: Mapped[str] = mapped_column(String(300), default="")


class AdminUnit(Base):
    __tablename__ = "admin_unit"
    __table_args__ = (
        UniqueConstraint("scheme", "level", "code", name="uq_admin_unit_scheme_level_code"),
        Index("ix_admin_unit_scheme_level_key", "scheme", "level", "name_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(ForeignKey("unit_scheme.code"))
    # "province", "district" or "commune" (phường, xã, đặc khu, thị trấn all count as communes)
    level: Mapped[str] = mapped_column(String(10))
    code: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(120))
    short_name: Mapped[str] = mapped_column(String(120))
    unit_type: Mapped[str] = mapped_column(String(40))
    # accent-free, space-free key ("phuongbennghe") used for matching free text
    name_key: Mapped[str] = mapped_column(String(120))
    # indexed: listing a unit's children, and every delete of a unit checks them
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    province_code: Mapped[str] = mapped_column(String(3), index=True)

    parent: Mapped[AdminUnit | None] = relationship(remote_side=[id], lazy="joined", join_depth=2)


class UnitSuccession(Base):
    """Old unit -> new unit. An old commune split in several new ones has one
    row per new commune; ``is_default`` marks the one used when the address
    alone cannot tell which part it was in."""

    __tablename__ = "unit_succession"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    new_unit_id: Mapped[int] = mapped_column(ForeignKey("admin_unit.id"), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=True)
    effective_on: Mapped[dt.date] = mapped_column(Date)

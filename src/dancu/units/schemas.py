"""Wire shapes of administrative units, shared by the API and `dancu address --json`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dancu.units.models import AdminUnit
from dancu.units.services import AddressConversion, unit_label


class UnitOut(BaseModel):
    id: int
    scheme: str = Field(description='"2025" (in force since 1 July 2025) or "legacy" (63 provinces)')
    level: str = Field(description="province, district (legacy only) or commune")
    code: str = Field(description="official code (5 digits for communes, 2 for provinces)")
    name: str
    short_name: str
    unit_type: str = Field(description="Tỉnh, Thành phố, Quận, Huyện, Phường, Xã, Đặc khu, ...")
    province_code: str
    parent_id: int | None
    label: str = Field(description="full name with its parents, e.g. Phường Sài Gòn, Thành phố Hồ Chí Minh")

    @classmethod
    def of(cls, unit: AdminUnit) -> UnitOut:
        return cls(
            id=unit.id,
            scheme=unit.scheme,
            level=unit.level,
            code=unit.code,
            name=unit.name,
            short_name=unit.short_name,
            unit_type=unit.unit_type,
            province_code=unit.province_code,
            parent_id=unit.parent_id,
            label=unit_label(unit),
        )


class UnitPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[UnitOut]


class AddressConversionOut(BaseModel):
    address: str = Field(description="the address as given (whitespace collapsed)")
    source_scheme: str = Field(description="scheme the address was written in")
    already_current: bool = Field(description="the address already uses the units in force today")
    street: str | None
    old_province: UnitOut
    old_district: UnitOut | None
    old_commune: UnitOut | None
    old_address: str
    new_commune: UnitOut
    new_province: UnitOut
    new_address: str
    all_candidates: list[UnitOut] = Field(description="every current commune that took over part of the old one")
    is_default_choice: bool = Field(
        description="the old commune was split; new_commune is its official default successor"
    )

    @classmethod
    def of(cls, conversion: AddressConversion) -> AddressConversionOut:
        def optional(unit: AdminUnit | None) -> UnitOut | None:
            return UnitOut.of(unit) if unit is not None else None

        return cls(
            address=conversion.text,
            source_scheme=conversion.source_scheme,
            already_current=conversion.already_current,
            street=conversion.street,
            old_province=UnitOut.of(conversion.old_province),
            old_district=optional(conversion.old_district),
            old_commune=optional(conversion.old_commune),
            old_address=conversion.old_address,
            new_commune=UnitOut.of(conversion.new_commune),
            new_province=UnitOut.of(conversion.new_province),
            new_address=conversion.new_address,
            all_candidates=[UnitOut.of(u) for u in conversion.all_candidates],
            is_default_choice=conversion.is_default_choice,
        )

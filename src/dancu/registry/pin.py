"""The 12-digit personal identification number (số định danh cá nhân).

Structure (Decree 137/2015/ND-CP, Circular 59/2021/TT-BCA):

    PPP C YY NNNNNN
    |   | |  serial, 6 digits
    |   | last two digits of the year of birth
    |   century and sex: 0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s,
    |   6/7 = 2200s, 8/9 = 2300s
    code of the province where the birth was registered, 3 digits

The province codes are those in force when numbers were first assigned (63
provinces). The 2025 merger does not renumber anybody, so the old codes stay
valid prefixes for ever.
"""

from __future__ import annotations

from dataclasses import dataclass

from dancu.registry.models import Sex

PROVINCE_CODES: frozenset[str] = frozenset(
    f"{code:03d}"
    for code in (
        1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35,
        36, 37, 38, 40, 42, 44, 45, 46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70,
        72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92, 93, 94, 95, 96,
    )
)

FIRST_CENTURY = 1900
LAST_CENTURY = 2300


class InvalidPin(ValueError):
    """The number cannot be a personal identification number at all."""

    code = "registry.invalid_pin"


@dataclass(frozen=True)
class PinParts:
    province_code: str
    birth_century: int
    sex: Sex
    birth_year_in_century: int
    serial: str

    def birth_year_candidates(self) -> int:
        return self.birth_century + self.birth_year_in_century


def parse_pin(pin: str) -> PinParts:
    if len(pin) != 12 or not pin.isascii() or not pin.isdigit():
        raise InvalidPin("must be exactly 12 digits")
    province_code = pin[:3]
    if province_code not in PROVINCE_CODES:
        raise InvalidPin(f"{province_code} is not a province code")
    century_sex = int(pin[3])
    return PinParts(
        province_code=province_code,
        birth_century=FIRST_CENTURY + 100 * (century_sex // 2),
        sex=Sex.FEMALE if century_sex % 2 else Sex.MALE,
        birth_year_in_century=int(pin[4:6]),
        serial=pin[6:],
    )


def make_pin(province_code: str, birth_year: int, sex: Sex, serial: int) -> str:
    if province_code not in PROVINCE_CODES:
        raise InvalidPin(f"{province_code} is not a province code")
    if not FIRST_CENTURY <= birth_year < LAST_CENTURY + 100:
        raise InvalidPin(f"birth year {birth_year} outside {FIRST_CENTURY}-{LAST_CENTURY + 99}")
    if not 0 <= serial <= 999_999:
        raise InvalidPin("serial must have at most 6 digits")
    century_sex = 2 * ((birth_year - FIRST_CENTURY) // 100) + (1 if sex is Sex.FEMALE else 0)
    return f"{province_code}{century_sex}{birth_year % 100:02d}{serial:06d}"


def pin_mismatches(pin: str, birth_year: int | None, sex: Sex | None) -> list[str]:
    """Ways in which a valid number disagrees with the person's recorded data.

    A mismatch is a data-quality finding: the number or the birth data is
    wrong, and a registrar must find out which.
    """
    parts = parse_pin(pin)
    problems = []
    if birth_year is not None and parts.birth_year_candidates() != birth_year:
        problems.append(f"number encodes birth year {parts.birth_year_candidates()}, record says {birth_year}")
    if sex is not None and parts.sex is not sex:
        problems.append(f"number encodes sex {parts.sex.value}, record says {sex.value}")
    return problems

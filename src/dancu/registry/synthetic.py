"""A synthetic city: households of people with Vietnamese names, ages, PINs and residence.

Rows follow docs/data-format.md, so `dancu import` loads them like any other
source. Generation is deterministic for a seed (one ``random.Random`` and
nothing else that varies: no clock, no hash order), streams household by
household in constant memory, and can inject the errors a real register holds
(typos, lost diacritics, swapped dates, duplicate registrations...) with a
ground-truth side channel telling which rows are the same person.

Shapes follow public figures: family-name shares of Vietnam, the 2019 census
age pyramid and ethnic mix of Hồ Chí Minh City, household sizes of about 3.5,
about 15% of residents holding only temporary residence.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import heapq
import io
import json
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from operator import itemgetter
from pathlib import Path
from random import Random
from typing import IO, NamedTuple, TypeVar

from sqlalchemy.orm import Session

from dancu.registry.models import Sex
from dancu.registry.pin import make_pin
from dancu.tabular import COLUMNS, format_of

TRUTH_COLUMNS = ("record_id", "entity_id", "error_kinds")

# Ages are counted to a fixed day rather than today: the same seed must give
# the same file next year too.
REFERENCE_DATE = dt.date(2026, 1, 1)
# Births registered from this day on are registered in the 2025 units.
REFORM_DATE = dt.date(2025, 7, 1)
LEGACY_SCHEME = "legacy"

ERROR_KINDS = ("duplicate", "typo", "no_diacritics", "swapped_day_month", "wrong_birth_year", "pin_digit",
               "missing_field", "other_address")

_YEAR = 365.2425
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CommuneRef:
    """A commune of today's (2025) units, with the pre-reform communes it took over.

    ``legacy`` holds ``(legacy commune code, legacy province code)`` of every
    old commune whose default successor this commune is: old records name
    those, and PINs of people born before the reform carry the old province.
    """

    code: str
    name: str
    province_code: str
    legacy: tuple[tuple[str, str], ...] = ()


class SyntheticRecord(NamedTuple):
    """One row of the exchange format and the truth about it."""

    row: dict[str, str]
    entity_id: str
    error_kinds: tuple[str, ...]


# NamedTuple's own constructor is a Python function; this is the C one.
_new_record = partial(tuple.__new__, SyntheticRecord)


# ---- reference frequencies -------------------------------------------------------------------

# Shares in per cent. Vietnam-wide shares for the big names, with the southern
# spellings (Huỳnh, Võ) ahead of the northern ones (Hoàng, Vũ), as in the city.
FAMILY_NAMES: dict[str, float] = {
    "Nguyễn": 38.4, "Trần": 11.0, "Lê": 9.5, "Phạm": 7.0, "Huỳnh": 3.0, "Hoàng": 2.1, "Phan": 4.5,
    "Võ": 2.6, "Vũ": 1.3, "Đặng": 2.1, "Bùi": 2.0, "Đỗ": 1.4, "Hồ": 1.3, "Ngô": 1.3, "Dương": 1.0,
    "Lý": 0.5, "Đinh": 0.7, "Trịnh": 0.5, "Đào": 0.6, "Đoàn": 0.6, "Trương": 0.6, "Lâm": 0.5, "Mai": 0.5,
    "Cao": 0.4, "Lưu": 0.4, "Lương": 0.4, "Tô": 0.3, "Thái": 0.3, "Tạ": 0.3, "Hà": 0.3, "Châu": 0.3,
    "Quách": 0.2, "Kiều": 0.2, "La": 0.2, "Tăng": 0.15, "Từ": 0.15, "Triệu": 0.15, "Chu": 0.15,
    "Phùng": 0.15, "Giang": 0.15, "Lại": 0.1, "Nghiêm": 0.1, "Tôn": 0.1, "Thân": 0.1, "Khúc": 0.05,
    "Mạc": 0.05, "Văn": 0.1, "Vương": 0.1, "Lục": 0.05,
}
# Hoa (Chinese Vietnamese) and Khmer families carry their own family names.
HOA_FAMILY_NAMES: dict[str, float] = {
    "Lâm": 10, "Lý": 10, "Trương": 9, "Huỳnh": 8, "Trần": 8, "Quách": 6, "Lưu": 6, "Hứa": 5, "Mã": 5,
    "Châu": 5, "Tăng": 5, "Diệp": 4, "Tạ": 4, "La": 4, "Dương": 3, "Vương": 3, "Từ": 3, "Ông": 2,
    "Quan": 2, "Thái": 2, "Lương": 2,
}
KHMER_FAMILY_NAMES: dict[str, float] = {
    "Thạch": 20, "Sơn": 15, "Danh": 12, "Kim": 10, "Lâm": 8, "Lý": 6, "Châu": 5, "Trần": 5, "Huỳnh": 4,
    "Triệu": 4, "Kiên": 3, "Dương": 3,
}

# Middle names by birth cohort (before 1980, 1980-1999, 2000 on): Văn and Thị
# give way to a wider choice in younger generations.
MALE_MIDDLE_NAMES: dict[str, tuple[float, float, float]] = {
    "Văn": (60, 35, 12), "Hữu": (6, 6, 4), "Đức": (5, 6, 6), "Minh": (5, 9, 14), "Quốc": (4, 6, 6),
    "Thanh": (5, 5, 3), "Công": (3, 3, 2), "Hoàng": (2, 4, 6), "Xuân": (2, 2, 1), "Ngọc": (3, 3, 2),
    "Tuấn": (1, 3, 3), "Gia": (0.5, 2, 10), "Trung": (1, 2, 2), "Anh": (1, 3, 5), "Thành": (2, 3, 3),
    "Quang": (2, 3, 3), "Duy": (0.5, 2, 4), "Tấn": (3, 3, 2), "Trọng": (1, 2, 2), "Bảo": (0.2, 1, 6),
    "Nhật": (0.2, 1, 4), "Đăng": (0.2, 1, 3), "Khánh": (0.2, 1, 3),
}
FEMALE_MIDDLE_NAMES: dict[str, tuple[float, float, float]] = {
    "Thị": (75, 45, 15), "Ngọc": (5, 8, 10), "Thu": (3, 4, 3), "Thanh": (4, 5, 4), "Kim": (4, 5, 4),
    "Thùy": (1, 4, 5), "Mỹ": (2, 4, 4), "Hồng": (2, 3, 2), "Phương": (0.5, 2, 5), "Bảo": (0.2, 1, 6),
    "Ánh": (0.5, 1, 2), "Bích": (2, 2, 1), "Diệu": (0.3, 1, 2), "Hoài": (0.5, 2, 2), "Khánh": (0.2, 1, 5),
    "Minh": (0.3, 1, 6), "Như": (0.5, 1, 2), "Quỳnh": (0.3, 1, 3), "Tường": (0.2, 1, 2), "Hải": (0.3, 1, 3),
    "Gia": (0.1, 0.5, 5),
}
# A second middle word ("Nguyễn Thị Ngọc Anh") in about one name in ten.
SECOND_MIDDLE_NAMES: dict[str, float] = {
    "Ngọc": 5, "Minh": 3, "Thanh": 3, "Kim": 2, "Thu": 2, "Hoàng": 2, "Bảo": 2, "Anh": 1, "Phương": 1,
}
MALE_GIVEN_NAMES: dict[str, float] = {
    "An": 3, "Bảo": 3, "Bình": 3, "Cường": 3, "Dũng": 4, "Duy": 3, "Đạt": 3, "Đức": 3, "Hải": 4,
    "Hiếu": 3, "Hòa": 2, "Hoàng": 3, "Huy": 5, "Hùng": 5, "Hưng": 3, "Khang": 2, "Khánh": 3, "Khoa": 3,
    "Kiên": 2, "Lâm": 2, "Long": 4, "Lộc": 2, "Minh": 5, "Nam": 5, "Nghĩa": 3, "Nhân": 3, "Phát": 3,
    "Phong": 3, "Phúc": 3, "Phước": 2, "Quân": 3, "Quang": 3, "Sang": 2, "Sơn": 4, "Tài": 3, "Tâm": 3,
    "Tân": 2, "Thắng": 3, "Thành": 4, "Thiện": 2, "Thịnh": 3, "Toàn": 3, "Trí": 3, "Trung": 4, "Tú": 2,
    "Tuấn": 5, "Vinh": 3, "Việt": 3, "Vũ": 2, "Hậu": 2, "Lợi": 2, "Nhật": 2, "Khôi": 2, "Dương": 2,
    "Hào": 2, "Đông": 2, "Tùng": 3, "Thông": 2,
}
FEMALE_GIVEN_NAMES: dict[str, float] = {
    "Anh": 5, "Ánh": 2, "Bích": 2, "Châu": 2, "Chi": 3, "Diễm": 2, "Dung": 3, "Duyên": 2, "Giang": 3,
    "Hà": 4, "Hạnh": 3, "Hằng": 3, "Hiền": 3, "Hoa": 3, "Hồng": 3, "Huệ": 2, "Hương": 5, "Huyền": 4,
    "Khánh": 2, "Lan": 4, "Liên": 2, "Linh": 5, "Loan": 3, "Ly": 2, "Mai": 4, "My": 3, "Nga": 3,
    "Ngân": 3, "Ngọc": 4, "Nhung": 3, "Như": 2, "Nhi": 3, "Oanh": 2, "Phương": 4, "Quyên": 2,
    "Quỳnh": 3, "Tâm": 3, "Thảo": 4, "Thủy": 4, "Thư": 3, "Thy": 2, "Trang": 5, "Trâm": 3, "Trinh": 3,
    "Tuyết": 2, "Uyên": 2, "Vân": 3, "Vy": 3, "Xuân": 2, "Yến": 3, "Hân": 2, "Tiên": 2,
}

# Ethnic groups of the city (GSO codes, 2019 census shares in per cent).
ETHNICITY: dict[int, float] = {
    1: 93.3, 4: 4.3, 5: 0.6, 17: 0.15, 2: 0.3, 7: 0.3, 6: 0.2, 3: 0.1, 32: 0.05, 22: 0.05, 9: 0.05,
    12: 0.03, 10: 0.03,
}
_HOA, _KHMER, _CHAM = 4, 5, 17
RELIGIONS: dict[str, float] = {
    "Không": 80, "Phật giáo": 10, "Công giáo": 7, "Tin Lành": 1, "Cao Đài": 0.9, "Phật giáo Hòa Hảo": 0.6,
}
# Religion follows the community for some groups.
RELIGIONS_BY_ETHNICITY: dict[int, dict[str, float]] = {
    _HOA: {"Không": 50, "Phật giáo": 40, "Công giáo": 10},
    _KHMER: {"Phật giáo": 90, "Không": 10},
    _CHAM: {"Hồi giáo": 70, "Bà-la-môn": 10, "Không": 20},
}

# Country of birth of naturalized citizens, their other nationality kept by a
# few, the ethnic group they register and a name they were known by.
NATURALIZED_ORIGINS: dict[str, tuple[float, int, tuple[str, ...]]] = {
    "KH": (35, _KHMER, ("Sok Chanthou", "Srey Pov", "Chan Dara", "Keo Sophea", "Vann Sreymom")),
    "CN": (25, _HOA, ("Wang Li", "Zhang Wei", "Liu Yang", "Chen Jing", "Huang Min")),
    "LA": (15, 37, ("Phonsavanh", "Souksavath Vongsa", "Khamla Inthavong", "Bounmy Sihalath")),
    "TW": (10, _HOA, ("Lin Mei-ling", "Tsai Ya-wen", "Chang Chih-hao")),
    "FR": (8, 1, ("Marie Nguyen", "Paul Tran", "Julien Le")),
    "US": (7, 1, ("Kevin Nguyen", "Linda Pham", "Michael Tran")),
}
# Countries where citizens by birth were born before returning.
BIRTH_COUNTRIES_ABROAD: dict[str, float] = {
    "US": 20, "JP": 15, "KR": 15, "TW": 12, "AU": 8, "DE": 8, "FR": 6, "CZ": 5, "RU": 5, "CA": 6,
}

STREETS: tuple[str, ...] = (
    "Nguyễn Trãi", "Lê Lợi", "Hai Bà Trưng", "Trần Hưng Đạo", "Lý Thường Kiệt", "Nguyễn Huệ", "Lê Duẩn",
    "Điện Biên Phủ", "Cách Mạng Tháng Tám", "Võ Văn Tần", "Nam Kỳ Khởi Nghĩa", "Pasteur",
    "Nguyễn Thị Minh Khai", "Lê Văn Sỹ", "Phan Xích Long", "Hoàng Văn Thụ", "Cộng Hòa", "Trường Chinh",
    "Âu Cơ", "Lạc Long Quân", "Nguyễn Văn Linh", "Huỳnh Tấn Phát", "Quang Trung", "Phan Văn Trị",
    "Xô Viết Nghệ Tĩnh", "Bạch Đằng", "Phạm Văn Đồng", "Kha Vạn Cân", "Võ Văn Ngân", "Lê Văn Việt",
    "Nguyễn Oanh", "Phan Đăng Lưu", "Bùi Đình Túy", "3 Tháng 2", "Sư Vạn Hạnh", "Lý Thái Tổ", "Hùng Vương",
    "Trần Phú", "Nguyễn Chí Thanh", "Hậu Giang", "Kinh Dương Vương", "Tân Kỳ Tân Quý", "Lũy Bán Bích",
    "Nguyễn Văn Cừ", "Trần Quang Khải", "Đinh Tiên Hoàng", "Nguyễn Đình Chiểu", "Lê Quang Định",
    "Nguyễn Kiệm", "Tô Hiến Thành", "Thống Nhất", "Quốc lộ 13", "Đại lộ Bình Dương", "Đường 30 Tháng 4",
    "Lê Hồng Phong", "Hoàng Diệu", "Trần Bình Trọng", "Nguyễn Du", "Phan Chu Trinh", "Đường số 7",
)
HAMLET_NAMES: tuple[str, ...] = (
    "Bình Thạnh", "Tân Hòa", "Phú Lợi", "Long Hưng", "An Bình", "Thạnh Mỹ", "Phước Lộc", "Tân Phú",
    "Hòa Lân", "Đông", "Tây", "Trung", "Bắc", "Nam", "Mỹ Hòa", "Tân Thành", "Vĩnh Lộc", "Cây Da",
)
APARTMENT_BLOCKS: tuple[str, ...] = (
    "Chung cư Nguyễn Kim", "Chung cư Hùng Vương", "Chung cư Bàu Cát", "Chung cư Ngô Gia Tự",
    "Chung cư Phú Mỹ", "Chung cư Tân Hương", "Chung cư An Phú", "Chung cư Lê Thành",
)

_KEYBOARD = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok",
    "o": "ipl", "p": "ol", "a": "qsz", "s": "adwx", "d": "sfec", "f": "dgrv", "g": "fhtb", "h": "gjyn",
    "j": "hkum", "k": "jli", "l": "ko", "z": "asx", "x": "zsdc", "c": "xdfv", "v": "cfgb", "b": "vghn",
    "n": "bhjm", "m": "njk",
}
_TONES = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_STRIP_D = str.maketrans({"đ": "d", "Đ": "D"})

_TABLE_SIZE = 1 << 14
_SEXES = (Sex.MALE, Sex.FEMALE)


def _table(weights: Mapping[_T, float]) -> tuple[_T, ...]:
    """A lookup tuple where each value fills a share of slots equal to its weight.

    ``table[int(random() * len(table))]`` then draws in one multiplication,
    several times faster than ``Random.choices`` in the inner loop.
    """
    total = sum(weights.values())
    slots: list[_T] = []
    cumulative = 0.0
    for value, weight in weights.items():
        cumulative += weight
        slots.extend([value] * (round(cumulative / total * _TABLE_SIZE) - len(slots)))
    return tuple(slots)


def strip_diacritics(text: str) -> str:
    """"Nguyễn Văn Đức" -> "Nguyen Van Duc": how names arrive from systems without Unicode."""
    decomposed = unicodedata.normalize("NFD", text.translate(_STRIP_D))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _typo(word: str, rand: Callable[[], float]) -> str:
    """A keying error in one word: wrong tone mark, neighbouring key, dropped,
    doubled or swapped letter. Always differs from the input.

    Works on whole letters (NFC), so that a mark never ends up on another letter.
    """
    chars = list(unicodedata.normalize("NFC", word))
    toned = [i for i, ch in enumerate(chars) if any(m in _TONES for m in unicodedata.normalize("NFD", ch))]
    how = rand()
    if toned and how < 0.3:
        i = toned[int(rand() * len(toned))]
        letter = unicodedata.normalize("NFD", chars[i])
        tone = next(m for m in letter if m in _TONES)
        others = [t for t in _TONES if t != tone] + [""]
        # the tone goes last, after a breve, circumflex or horn, for NFC to compose the letter again
        chars[i] = unicodedata.normalize("NFC", letter.replace(tone, "") + others[int(rand() * len(others))])
    else:
        i = int(rand() * len(chars))
        ch = chars[i]
        if how < 0.55 and ch.lower() in _KEYBOARD:
            near = _KEYBOARD[ch.lower()]
            sub = near[int(rand() * len(near))]
            chars[i] = sub.upper() if ch.isupper() else sub
        elif how < 0.75 and len(chars) > 2:
            del chars[i]
        elif how < 0.85 or len(chars) < 3:
            chars.insert(i, ch)
        else:
            # swap two letters after the capital
            i = 1 + int(rand() * (len(chars) - 2))
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
    result = "".join(chars)
    return result if result != word and result else word + word[-1]


# ---- the generator ---------------------------------------------------------------------------


def _gaps_ok(child_birth: int, *parents: _Member) -> bool:
    return all(int(18 * _YEAR) < child_birth - p.birth < int(45 * _YEAR) for p in parents)


class _Member:
    """A person of the household being built, before the row is written."""

    __slots__ = ("rid", "female", "birth", "rel", "father", "mother", "spouse", "family", "special")

    def __init__(self, rid: str, female: bool, birth: int, rel: str, family: str) -> None:
        self.rid = rid
        self.female = female
        self.birth = birth
        self.rel = rel
        self.father = ""
        self.mother = ""
        self.spouse = ""
        self.family = family
        # "", "naturalized", "abroad" or "unknown_birthplace"
        self.special = ""


class _Place:
    """A commune with what the inner loop needs precomputed.

    ``before_reform`` lists (unit reference, 3-digit PIN province) to draw from
    for events registered before the reform: each old commune once by its
    legacy reference and once by today's code, so half of old records name the
    old unit. ``after_reform`` is the single choice afterwards.
    """

    __slots__ = ("code", "urban", "hamlet", "province_code", "before_reform", "after_reform")

    def __init__(self, commune: CommuneRef) -> None:
        self.code = commune.code
        self.urban = commune.name.startswith("Phường")
        # hamlets are "ấp" in the south and "thôn" elsewhere
        self.hamlet = "Ấp" if int(commune.province_code) >= 68 else "Thôn"
        self.province_code = commune.province_code
        self.after_reform = ((commune.code, f"{int(commune.province_code):03d}"),)
        old = [(ref, f"{int(province):03d}") for code, province in commune.legacy
               for ref in (f"{LEGACY_SCHEME}:{code}", commune.code)]
        self.before_reform = tuple(old) or self.after_reform


# Household kinds of permanent residents and of migrants, by share of households.
_CITY_KINDS = {"single": 9, "couple": 10, "nuclear": 50, "lone_parent": 7, "with_parents": 14, "three_gen": 10}
_MIGRANT_KINDS = {"single": 45, "couple": 20, "nuclear": 35}
_ERROR_WEIGHTS = {"duplicate": 28, "typo": 22, "no_diacritics": 15, "swapped_day_month": 8,
                  "wrong_birth_year": 10, "pin_digit": 10, "missing_field": 7}
_DUPLICATE_SHARE = _ERROR_WEIGHTS["duplicate"] / sum(_ERROR_WEIGHTS.values())
# Share of households whose members hold permanent residence in another
# province; they are smaller than average, so this gives ~15% of persons.
_MIGRANT_HOUSEHOLDS = 0.23
# A duplicate registration appears up to this many households later.
_DUPLICATE_DELAY = 2000


class _City:
    def __init__(
        self, seed: int, province_code: str, communes: Sequence[CommuneRef], elsewhere: Sequence[CommuneRef],
        error_rate: float, as_of: dt.date,
    ) -> None:
        if not communes:
            raise ValueError("the city needs at least one commune")
        if not 0.0 <= error_rate < 1.0:
            raise ValueError("error rate must be in [0, 1)")
        self.rand = Random(seed).random
        self.seed = seed
        self.province_code = province_code
        self.communes = tuple(_Place(c) for c in communes)
        self.elsewhere = tuple(_Place(c) for c in elsewhere)
        self.today = as_of.toordinal()
        self.reform = REFORM_DATE.toordinal()
        # chance that an original row gets an error, so that the share of
        # erroneous rows among all rows, duplicates included, is error_rate
        self.error_chance = error_rate / (1 - error_rate * _DUPLICATE_SHARE)
        self.family_names = {0: _table(FAMILY_NAMES), _HOA: _table(HOA_FAMILY_NAMES),
                             _KHMER: _table(KHMER_FAMILY_NAMES)}
        # indexed by 3 * female + birth cohort
        self.middle = tuple(
            _table({name: shares[cohort] for name, shares in table.items()})
            for table in (MALE_MIDDLE_NAMES, FEMALE_MIDDLE_NAMES) for cohort in range(3)
        )
        self.second_middle = _table(SECOND_MIDDLE_NAMES)
        self.given = {False: _table(MALE_GIVEN_NAMES), True: _table(FEMALE_GIVEN_NAMES)}
        self.ethnicity = _table(ETHNICITY)
        self.religions = {0: _table(RELIGIONS), **{k: _table(v) for k, v in RELIGIONS_BY_ETHNICITY.items()}}
        self.city_kinds = _table(_CITY_KINDS)
        self.migrant_kinds = _table(_MIGRANT_KINDS)
        self.error_kinds = _table(_ERROR_WEIGHTS)
        self.naturalized = _table({k: v[0] for k, v in NATURALIZED_ORIGINS.items()})
        self.abroad = _table(BIRTH_COUNTRIES_ABROAD)
        self.rows = 0
        self.households = 0
        self.serials: dict[tuple[str, bool, int], list[int]] = {}
        self.dates: dict[int, tuple[str, int, int, int]] = {}
        self.pending: list[tuple[int, int, SyntheticRecord]] = []

    # -- small draws ----------------------------------------------------------------------------

    def _pick(self, items: Sequence[_T]) -> _T:
        return items[int(self.rand() * len(items))]

    def _date(self, ordinal: int) -> tuple[str, int, int, int]:
        cached = self.dates.get(ordinal)
        if cached is None:
            day = dt.date.fromordinal(ordinal)
            cached = self.dates[ordinal] = (day.isoformat(), day.year, day.month, day.day)
        return cached

    def _born_aged(self, low: float, high: float) -> int:
        return self.today - int((low + self.rand() * (high - low)) * _YEAR) - 1

    def _next_rid(self) -> str:
        self.rows += 1
        return str(self.rows)

    def _pin(self, province3: str, year: int, female: bool) -> str:
        # A counter per PIN prefix, spread over 0..999999 by multiplying with
        # a number prime to 10^6: unique and random-looking without a set of
        # every serial handed out.
        prefix = (province3, female, year)
        state = self.serials.get(prefix)
        if state is None or state[0] >= 1_000_000:
            state = self._serial_state(prefix)
        count = state[0]
        state[0] = count + 1
        return make_pin(province3, year, _SEXES[female], (state[1] + count * 7919) % 1_000_000)

    def _serial_state(self, prefix: tuple[str, bool, int]) -> list[int]:
        """[serials handed out, random offset] of a PIN prefix; refuses more than a million."""
        state = self.serials.get(prefix)
        if state is None:
            state = self.serials[prefix] = [0, int(self.rand() * 1_000_000)]
        if state[0] >= 1_000_000:
            raise ValueError(f"more than a million PINs for {prefix}")
        return state

    def _address(self, place: _Place) -> str:
        rand = self.rand
        r = rand()
        if place.urban:
            number = 1 + int(rand() * rand() * 400)
            street = STREETS[int(rand() * len(STREETS))]
            if r < 0.45:
                return f"{number} {street}"
            if r < 0.80:
                return f"{number}/{1 + int(rand() * 60)} {street}"
            if r < 0.90:
                return f"{number}/{1 + int(rand() * 40)}/{1 + int(rand() * 20)} {street}"
            floor = 1 + int(rand() * 20)
            return f"Căn hộ {floor}.{1 + int(rand() * 16):02d}, {APARTMENT_BLOCKS[int(rand() * len(APARTMENT_BLOCKS))]}"
        hamlet = place.hamlet
        if r < 0.5:
            return f"Tổ {1 + int(rand() * 12)}, {hamlet} {1 + int(rand() * 9)}"
        return f"{hamlet} {HAMLET_NAMES[int(rand() * len(HAMLET_NAMES))]}"

    # -- households -----------------------------------------------------------------------------

    def _children(self, members: list[_Member], mother: _Member | None, father: _Member | None,
                  family: str, rel: str, adult_stay: float) -> None:
        """Children of a couple or lone parent, each 18-45 years younger than both parents."""
        rand, today = self.rand, self.today
        parents = [p for p in (mother, father) if p is not None]
        low = max(p.birth for p in parents) + int(18 * _YEAR) + 1
        high = min(min(p.birth for p in parents) + int(45 * _YEAR) - 1, today)
        mother_year = self._date(parents[0].birth)[1]
        most = 5 if mother_year < 1960 else 4 if mother_year < 1975 else 3
        count = 1 + int(rand() * most * 0.7 + rand() * 0.9)
        birth = low + int((2 + rand() * 9) * _YEAR)
        father_rid = father.rid if father else ""
        mother_rid = mother.rid if mother else ""
        for _ in range(count):
            if birth > high:
                break
            age = (today - birth) / _YEAR
            # grown children mostly live on their own
            if age < 18 or rand() < (adult_stay if age < 30 else adult_stay / 3):
                self.rows += 1
                child = _Member(str(self.rows), rand() < 0.48, birth, rel, family)
                child.father = father_rid
                child.mother = mother_rid
                members.append(child)
            birth += int((1.5 + rand() * 5) * _YEAR)

    def _couple(self, members: list[_Member], husband_born: int, head_female: bool, ethnicity: int,
                husband_rel: str = "head", wife_rel: str = "spouse") -> tuple[_Member, _Member]:
        rand = self.rand
        families = self.family_names.get(ethnicity, self.family_names[0])
        wife_born = husband_born + int((rand() * 8 - 1.5) * _YEAR)
        wife_born = min(wife_born, self.today - int(18 * _YEAR) - 1)
        if head_female:
            husband_rel, wife_rel = wife_rel, husband_rel
        rows = self.rows
        self.rows = rows + 2
        husband = _Member(str(rows + 1), False, husband_born, husband_rel, families[int(rand() * len(families))])
        wife = _Member(str(rows + 2), True, wife_born, wife_rel, families[int(rand() * len(families))])
        husband.spouse, wife.spouse = wife.rid, husband.rid
        if rand() < 0.004:
            wife.special = "naturalized"
        members.extend((wife, husband) if head_female else (husband, wife))
        return husband, wife

    def _build(self, kind: str, ethnicity: int, migrant: bool) -> list[_Member]:
        members: list[_Member] = []
        rand = self.rand
        families = self.family_names.get(ethnicity, self.family_names[0])
        if kind == "single":
            low, high = (18, 40) if migrant else ((20, 35), (35, 60), (60, 88))[int(rand() * rand() * 3)]
            members.append(_Member(self._next_rid(), rand() < 0.45, self._born_aged(low, high), "head",
                                   self._pick(families)))
        elif kind == "couple":
            low, high = (22, 40) if migrant else ((22, 35), (50, 85))[rand() < 0.5]
            self._couple(members, self._born_aged(low, high), rand() < 0.15, ethnicity)
        elif kind == "nuclear":
            low, high = (24, 40) if migrant else (25, 45) if rand() < 0.7 else (45, 65)
            husband, wife = self._couple(members, self._born_aged(low, high), rand() < 0.2, ethnicity)
            self._children(members, wife, husband, husband.family, "child", 0.2 if migrant else 0.7)
        elif kind == "lone_parent":
            parent = _Member(self._next_rid(), rand() < 0.8, self._born_aged(30, 65), "head", self._pick(families))
            members.append(parent)
            self._children(members, parent if parent.female else None, None if parent.female else parent,
                           self._pick(families) if parent.female else parent.family, "child", 0.7)
        elif kind == "with_parents":
            husband, wife = self._couple(members, self._born_aged(25, 50), rand() < 0.2, ethnicity)
            head = members[0]
            # 24-38 years older than the head, the mother up to 5 years younger than the father:
            # both stay 18-45 years older than their child
            grand_father = _Member(self._next_rid(), False, head.birth - int((24 + rand() * 14) * _YEAR),
                                   "parent", head.family)
            grand_mother = _Member(self._next_rid(), True, grand_father.birth + int((rand() * 5) * _YEAR),
                                   "parent", self._pick(families))
            oldest = self.today - int(98 * _YEAR)
            grand_parents = [p for p in (grand_father, grand_mother) if p.birth > oldest]
            if len(grand_parents) == 2 and rand() < 0.4:
                # widowed: one grandparent left
                grand_parents.pop(int(rand() * 2))
            for gp in grand_parents:
                if len(grand_parents) == 2:
                    gp.spouse = grand_mother.rid if gp is grand_father else grand_father.rid
                members.append(gp)
            if grand_father in grand_parents:
                head.father = grand_father.rid
            if grand_mother in grand_parents:
                head.mother = grand_mother.rid
            self._children(members, wife, husband, husband.family, "child", 0.7)
        else:  # three_gen: an old head, a married son or daughter, grandchildren
            old_man, old_woman = self._couple(members, self._born_aged(55, 82), rand() < 0.3, ethnicity)
            if rand() < 0.35:
                members.remove(old_man if old_woman.rel == "head" else old_woman)
                old_man.spouse = old_woman.spouse = ""
            son_born = old_woman.birth + int((20 + rand() * 18) * _YEAR)
            if son_born > self.today - int(22 * _YEAR):
                son_born = self.today - int(22 * _YEAR) - 1
            if son_born - max(old_man.birth, old_woman.birth) < int(18 * _YEAR) + 1:
                return members
            young_husband, young_wife = self._couple(members, son_born, False, ethnicity, "child", "child_in_law")
            old_parents = [p for p in (old_man, old_woman) if p in members]
            if rand() < 0.25 and _gaps_ok(young_wife.birth, old_man, old_woman):
                # the daughter's family lives with her parents
                young_husband.rel, young_wife.rel = "child_in_law", "child"
                young_wife.family = old_man.family
                kin = young_wife
            else:
                young_husband.family = old_man.family
                kin = young_husband
            if old_man in old_parents:
                kin.father = old_man.rid
            if old_woman in old_parents:
                kin.mother = old_woman.rid
            self._children(members, young_wife, young_husband, young_husband.family, "grandchild", 0.5)
        return members

    # -- rows -----------------------------------------------------------------------------------

    def households_rows(self, people: int, progress: Callable[[int], None] | None) -> Iterator[SyntheticRecord]:
        # The inner loop runs once per person (10 million times for a big
        # city): attribute look-ups are hoisted into locals, and draws are
        # table look-ups with one random() each.
        rand = self.rand
        pick = self._pick
        dates = self.dates
        date_of = self._date
        communes, elsewhere = self.communes, self.elsewhere
        middles, given_names, second_middle = self.middle, self.given, self.second_middle
        reform, today, error_chance = self.reform, self.today, self.error_chance
        pending = self.pending
        serials = self.serials
        record = _new_record
        seed_tag = f"{self.seed % 100_000:05d}"
        adult = int(18 * _YEAR)
        made = reported = 0
        while made < people:
            self.households += 1
            migrant = bool(elsewhere) and rand() < _MIGRANT_HOUSEHOLDS
            ethnicity = self.ethnicity[int(rand() * _TABLE_SIZE)]
            kind = (self.migrant_kinds if migrant else self.city_kinds)[int(rand() * _TABLE_SIZE)]
            members = self._build(kind, ethnicity, migrant)
            if len(members) > people - made:
                # the last household must not overshoot: its head alone
                members = members[:1]
                members[0].father = members[0].mother = members[0].spouse = ""
            religions = self.religions.get(ethnicity, self.religions[0])
            religion = religions[int(rand() * _TABLE_SIZE)]
            ethnicity_code = str(ethnicity)
            city_commune = communes[int(rand() * len(communes))]
            home = pick(elsewhere) if migrant else city_commune
            address = self._address(home)
            code = f"{home.province_code}{seed_tag}{self.households:09d}"
            established = min(m.birth for m in members if m.rel in ("head", "spouse")) + adult
            established = max(established, today - int(40 * _YEAR))
            established += int(rand() * (today - established))
            established_iso = date_of(established)[0]
            if migrant:
                temp_address = (f"Phòng {1 + int(rand() * 30)}, " if rand() < 0.6 else "") + self._address(city_commune)
                # registered within the last year, mostly for the longest term the law allows (2 years)
                temp_from_ord = today - 1 - int(rand() * _YEAR)
                temp_from = date_of(temp_from_ord)[0]
                temp_until = date_of(temp_from_ord + int((1 if rand() < 0.1 else 2) * _YEAR))[0]
            hometown = home if migrant or not elsewhere or rand() < 0.45 else pick(elsewhere)
            # the family's hometown as the older members' papers name it, and as today's
            hometown_old = pick(hometown.before_reform)[0] if rand() < 0.6 else hometown.code
            for m in members:
                made += 1
                birth = m.birth
                iso, year, month, day = dates.get(birth) or date_of(birth)
                female = m.female
                middle = middles[3 * female + (0 if year < 1980 else 1 if year < 2000 else 2)][
                    int(rand() * _TABLE_SIZE)]
                if rand() < 0.1:
                    second = second_middle[int(rand() * _TABLE_SIZE)]
                    if second != middle:
                        middle = f"{middle} {second}"
                # registered at birth here, or born elsewhere in the city or the country
                if birth > established or migrant or rand() < 0.35:
                    birth_place = home
                elif not elsewhere or rand() < 0.55:
                    birth_place = communes[int(rand() * len(communes))]
                else:
                    birth_place = elsewhere[int(rand() * len(elsewhere))]
                choices = birth_place.before_reform if birth < reform else birth_place.after_reform
                birth_ref, pin_province = choices[int(rand() * len(choices))]
                birth_date = iso
                if year < 1960:
                    r = rand()
                    if r < (0.4 if year < 1950 else 0.1):
                        birth_date = iso[:4]
                    elif r < (0.55 if year < 1950 else 0.15):
                        birth_date = iso[:7]
                row = {
                    "record_id": m.rid, "pin": "", "family_name": m.family, "middle_name": middle,
                    "given_name": given_names[female][int(rand() * _TABLE_SIZE)], "full_name": "",
                    "other_names": "", "birth_date": birth_date, "sex": "F" if female else "M",
                    "nationalities": "VN", "citizenship_basis": "birth", "naturalized_on": "",
                    "ethnicity_code": ethnicity_code, "religion": religion, "birth_place_status": "known",
                    "birth_registration_unit": birth_ref, "birth_country": "", "hometown_status": "known",
                    "hometown_unit": hometown_old if birth < reform else hometown.code,
                    "father_record_id": m.father, "mother_record_id": m.mother, "spouse_record_id": m.spouse,
                    "status": "alive", "status_date": "", "permanent_unit": home.code,
                    "permanent_address": address,
                    "permanent_since": iso if birth > established else established_iso,
                    "household_code": code, "relationship_to_head": m.rel, "temporary_unit": "",
                    "temporary_address": "", "temporary_from": "", "temporary_until": "",
                }
                if migrant:
                    row["temporary_unit"] = city_commune.code
                    row["temporary_address"] = temp_address
                    row["temporary_from"] = temp_from if birth < temp_from_ord else iso
                    row["temporary_until"] = temp_until
                if m.special or rand() < 0.003:
                    pin_province = self._special(row, m, pin_province)
                # the PIN's serial: see _pin, inlined here
                prefix = (pin_province, female, year)
                state = serials.get(prefix)
                if state is None or state[0] >= 1_000_000:
                    state = self._serial_state(prefix)
                count = state[0]
                state[0] = count + 1
                row["pin"] = make_pin(pin_province, year, _SEXES[female], (state[1] + count * 7919) % 1_000_000)
                if m.rel != "head":
                    r = rand()
                    if r < 0.22 or r > 0.9998:
                        self._vital_status(row, birth, r)
                entity = f"E{made}"
                if rand() < error_chance:
                    yield record((row, entity, self._inject(row, entity)))
                else:
                    yield record((row, entity, ()))
                if progress is not None and made - reported >= 8192:
                    progress(made - reported)
                    reported = made
            while pending and pending[0][0] <= self.households:
                yield heapq.heappop(pending)[2]
        while pending:
            yield heapq.heappop(pending)[2]
        if progress is not None and made > reported:
            progress(made - reported)

    def _special(self, row: dict[str, str], m: _Member, pin_province: str) -> str:
        """Naturalized citizens, citizens born abroad, and birthplaces nobody knows."""
        rand = self.rand
        special = m.special or ("abroad" if rand() < 0.7 else "unknown_birthplace")
        if special == "naturalized":
            country = self.naturalized[int(rand() * _TABLE_SIZE)]
            _, ethnicity, names = NATURALIZED_ORIGINS[country]
            adult = m.birth + int(18 * _YEAR)
            naturalized_on = self._date(adult + int(rand() * (self.today - adult)))[0]
            row.update(
                citizenship_basis="naturalization", naturalized_on=naturalized_on,
                nationalities="VN" if rand() < 0.85 else f"VN;{country}", birth_place_status="abroad",
                birth_country=country, birth_registration_unit="", hometown_status="unknown", hometown_unit="",
                ethnicity_code=str(ethnicity), other_names=self._pick(names),
            )
            return f"{int(self.province_code):03d}"
        if special == "abroad":
            row.update(birth_place_status="abroad", birth_country=self.abroad[int(rand() * _TABLE_SIZE)],
                       birth_registration_unit="")
        else:
            row.update(birth_place_status="unknown", birth_registration_unit="", hometown_status="unknown",
                       hometown_unit="")
        return pin_province

    def _vital_status(self, row: dict[str, str], born: int, r: float) -> None:
        """Deaths (more likely with age) and the rare missing person; ``r`` is the caller's draw."""
        age = (self.today - born) / _YEAR
        if r < (0.22 if age >= 80 else 0.09 if age >= 70 else 0.03 if age >= 60 else 0.003):
            earliest = max(born + 1, self.today - int(8 * _YEAR))
            died = earliest + int(self.rand() * (self.today - earliest))
            # the deceased leave the household; their last residence stays on record
            died_on = self._date(died)[0]
            row.update(status="deceased", status_date=died_on, household_code="", relationship_to_head="",
                       permanent_since=min(row["permanent_since"], died_on), temporary_unit="",
                       temporary_address="", temporary_from="", temporary_until="")
        elif 15 <= age < 60 and r > 0.9998:
            row.update(status="missing", status_date=self._date(self.today - 1 - int(self.rand() * 5 * _YEAR))[0])

    # -- errors ---------------------------------------------------------------------------------

    def _inject(self, row: dict[str, str], entity: str) -> tuple[str, ...]:
        kind = self.error_kinds[int(self.rand() * _TABLE_SIZE)]
        if kind == "duplicate":
            self._duplicate(row, entity)
            return ()
        return (self._apply(row, kind),)

    def _apply(self, row: dict[str, str], kind: str) -> str:
        """Apply one error to a row; returns the kind applied (typo when the asked one cannot apply)."""
        rand = self.rand
        birth = row["birth_date"]
        if kind == "swapped_day_month" and len(birth) == 10 and int(birth[8:]) <= 12 and birth[5:7] != birth[8:]:
            row["birth_date"] = f"{birth[:4]}-{birth[8:]}-{birth[5:7]}"
            return kind
        if kind == "wrong_birth_year" and birth:
            year = int(birth[:4]) + (1 if rand() < 0.5 else -1)
            rest = "-02-28" if birth[4:] == "-02-29" else birth[4:]
            row["birth_date"] = f"{year:04d}{rest}"
            return kind
        if kind == "pin_digit" and row["pin"]:
            row["pin"] = self._pin_error(row["pin"])
            return kind
        if kind == "no_diacritics":
            for column in ("family_name", "middle_name", "given_name"):
                row[column] = strip_diacritics(row[column])
            if rand() < 0.5:
                row["permanent_address"] = strip_diacritics(row["permanent_address"])
            return kind
        if kind == "missing_field":
            column = self._pick(("ethnicity_code", "hometown_unit", "birth_registration_unit", "pin", "religion"))
            if row[column]:
                row[column] = ""
                return kind
        r = rand()
        column = "given_name" if r < 0.5 else "family_name" if r < 0.8 or not row["middle_name"] else "middle_name"
        words = row[column].split(" ")
        i = int(rand() * len(words))
        words[i] = _typo(words[i], rand)
        row[column] = " ".join(words)
        return "typo"

    def _pin_error(self, pin: str) -> str:
        """A mistyped number that is still well-formed: serial digits, swapped digits or the sex digit."""
        rand = self.rand
        r = rand()
        if r < 0.6:
            i = 6 + int(rand() * 6)
            digit = str((int(pin[i]) + 1 + int(rand() * 9)) % 10)
            return pin[:i] + digit + pin[i + 1:]
        if r < 0.85:
            for _ in range(8):
                i = 4 + int(rand() * 7)
                if pin[i] != pin[i + 1]:
                    return pin[:i] + pin[i + 1] + pin[i] + pin[i + 2:]
        # century digit: even for men, odd for women; flipping it flips the sex
        flipped = int(pin[3]) ^ 1
        return pin[:3] + str(flipped) + pin[4:]

    def _duplicate(self, original: dict[str, str], entity: str) -> None:
        """Queue a second registration of the same person, a little later in the file."""
        rand = self.rand
        row = dict(original)
        row["record_id"] = self._next_rid()
        kinds = ["duplicate"]
        if rand() < 0.7 and original["birth_date"]:
            # registered again elsewhere: a new number, sometimes from another province
            province = original["pin"][:3]
            if self.elsewhere and rand() < 0.3:
                province = self._pick(self.elsewhere).after_reform[0][1]
            row["pin"] = self._pin(province, int(original["birth_date"][:4]), original["sex"] == "F")
        if rand() < 0.4:
            kinds.append(self._apply(row, "no_diacritics"))
        if rand() < 0.35:
            kinds.append(self._apply(row, "typo"))
        if rand() < 0.15:
            kinds.append(self._apply(row, "wrong_birth_year" if rand() < 0.5 else "swapped_day_month"))
        if rand() < 0.7 or len(kinds) == 1:
            commune = self._pick(self.communes)
            row.update(permanent_unit=commune.code, permanent_address=self._address(commune),
                       temporary_unit="", temporary_address="", temporary_from="", temporary_until="")
            kinds.append("other_address")
        row.update(household_code="", relationship_to_head="", father_record_id="", mother_record_id="",
                   spouse_record_id="")
        due = self.households + 1 + int(rand() * _DUPLICATE_DELAY)
        record = SyntheticRecord(row, entity, tuple(dict.fromkeys(kinds)))
        heapq.heappush(self.pending, (due, self.rows, record))


def generate(
    people: int,
    seed: int,
    province_code: str = "79",
    error_rate: float = 0.0,
    *,
    communes: Sequence[CommuneRef],
    elsewhere: Sequence[CommuneRef] = (),
    as_of: dt.date = REFERENCE_DATE,
    progress: Callable[[int], None] | None = None,
) -> Iterator[SyntheticRecord]:
    """Rows of ``people`` persons living in ``communes`` (the city's communes today).

    ``elsewhere`` are communes of other provinces: migrants' permanent homes,
    hometowns and birthplaces; without them everybody is from the city.
    With ``error_rate`` about that share of rows carry an injected error, and
    duplicate registrations add rows beyond ``people`` (the truth says which).
    ``progress`` is called with the number of persons generated since its
    last call. The same arguments always give the same rows.
    """
    if people < 0:
        raise ValueError("people must be >= 0")
    city = _City(seed, province_code, communes, elsewhere, error_rate, as_of)
    return city.households_rows(people, progress)


# ---- communes from the database ----------------------------------------------------------------


def resolve_province(session: Session, text: str) -> str:
    """Official code of today's province named by ``text``: a code ("79", "079")
    or a name with or without diacritics ("Hồ Chí Minh", "ho chi minh", "Thành phố Hồ Chí Minh")."""
    from dancu.text import fold
    from dancu.units import services as units

    provinces = units.list_provinces(session)
    wanted = text.strip()
    if wanted.isdigit():
        code = f"{int(wanted):02d}"
        if any(p.code == code for p in provinces):
            return code
        raise ValueError(f"no province with code {wanted!r} today")
    key = fold(wanted)
    found = [p for p in provinces if fold(p.name) == key or fold(p.name).endswith(" " + key)]
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise ValueError(f"{wanted!r} names {len(found)} provinces ({names}); give the code instead")
    return found[0].code


def communes_from_db(session: Session, province_code: str) -> tuple[list[CommuneRef], list[CommuneRef]]:
    """(communes of the province, communes of every other province), today's units
    with the pre-reform communes each one took over."""
    from dancu.units import services as units

    index = units.unit_ref_index(session)
    predecessors: dict[int, list[tuple[str, str]]] = defaultdict(list)
    if any(s.code == LEGACY_SCHEME for s in units.schemes(session)):
        for province in units.list_provinces(session, scheme=LEGACY_SCHEME):
            for old in units.list_communes(session, province.code, scheme=LEGACY_SCHEME):
                target = index.get(f"{LEGACY_SCHEME}:{old.code}")
                if target is not None:
                    predecessors[target].append((old.code, old.province_code))
    city: list[CommuneRef] = []
    elsewhere: list[CommuneRef] = []
    for province in units.list_provinces(session):
        for unit in units.list_communes(session, province.code):
            ref = CommuneRef(unit.code, unit.name, unit.province_code, tuple(predecessors.get(unit.id, ())))
            (city if province.code == province_code else elsewhere).append(ref)
    if not city:
        raise ValueError(f"province {province_code!r} has no communes")
    return city, elsewhere


# ---- writers -------------------------------------------------------------------------------------


@contextmanager
def _open_out(path: Path) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        # level 1: the file is written once and read once; speed matters more than size
        with io.TextIOWrapper(gzip.open(path, "wb", compresslevel=1), encoding="utf-8", newline="") as handle:
            yield handle
    else:
        with path.open("w", encoding="utf-8", newline="", buffering=1 << 20) as handle:
            yield handle


@contextmanager
def _row_sink(path: Path, fmt: str, in_column_order: bool = False) -> Iterator[Callable[[dict[str, str]], object]]:
    """A function writing one row to ``path`` as CSV (header first) or JSON Lines.

    ``in_column_order`` promises that every row holds exactly COLUMNS in that
    order (rows of ``generate`` do), so CSV takes the values as they are.
    """
    with _open_out(path) as handle:
        if fmt == "csv":
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            writerow = writer.writerow
            if in_column_order:
                yield lambda row: writerow(row.values())
            else:
                values = itemgetter(*COLUMNS)
                yield lambda row: writerow(values(row))
        else:
            encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            write = handle.write
            # empty values are "not known": leaving the keys out keeps lines short
            yield lambda row: write(encode({k: v for k, v in row.items() if v}) + "\n")


def _write(rows: Iterable[dict[str, str]], path: Path, fmt: str) -> int:
    count = 0
    with _row_sink(Path(path), fmt) as sink:
        for row in rows:
            sink(row)
            count += 1
    return count


def write_csv(rows: Iterable[dict[str, str]], path: Path) -> int:
    """Write rows as CSV with the exchange-format header; returns the row count."""
    return _write(rows, path, "csv")


def write_jsonl(rows: Iterable[dict[str, str]], path: Path) -> int:
    """Write rows as JSON Lines, one object a line without empty values; returns the row count."""
    return _write(rows, path, "jsonl")


def write_rows(rows: Iterable[dict[str, str]], path: Path) -> int:
    """CSV or JSON Lines by the file name (.csv, .jsonl, .ndjson, optionally .gz)."""
    return _write(rows, path, format_of(Path(path)))


def write_truth(records: Iterable[SyntheticRecord], path: Path) -> int:
    """The ground truth: ``record_id,entity_id,error_kinds`` (kinds separated by ``;``)."""
    count = 0
    with _open_out(Path(path)) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TRUTH_COLUMNS)
        for row, entity, kinds in records:
            writer.writerow((row["record_id"], entity, ";".join(kinds)))
            count += 1
    return count


@dataclass
class SeedSummary:
    rows: int = 0
    persons: int = 0
    erroneous_rows: int = 0
    duplicates: int = 0


def write_dataset(records: Iterable[SyntheticRecord], out: Path, truth: Path | None = None) -> SeedSummary:
    """Write the records of ``generate`` (format by extension) and, when asked, the ground truth, in one pass."""
    out = Path(out)
    summary = SeedSummary()
    with _row_sink(out, format_of(out), in_column_order=True) as sink, \
            (_open_out(Path(truth)) if truth is not None else nullcontext()) as truth_handle:
        truth_row = None
        if truth_handle is not None:
            truth_writer = csv.writer(truth_handle, lineterminator="\n")
            truth_writer.writerow(TRUTH_COLUMNS)
            truth_row = truth_writer.writerow
        rows = erroneous = duplicates = 0
        for row, entity, kinds in records:
            sink(row)
            rows += 1
            if kinds:
                erroneous += 1
                if kinds[0] == "duplicate":
                    duplicates += 1
                if truth_row is not None:
                    truth_row((row["record_id"], entity, ";".join(kinds)))
            elif truth_row is not None:
                truth_row((row["record_id"], entity, ""))
    summary.rows, summary.erroneous_rows, summary.duplicates = rows, erroneous, duplicates
    summary.persons = rows - duplicates
    return summary


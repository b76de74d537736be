"""Administrative units before and after the 2025 reform, with successions.

Revision ID: 0003
Revises: 0002

The data comes from the pinned `vietnamadminunits` package (see
pyproject.toml); bumping that pin changes what a fresh database holds, so a
newer release of the data must arrive as a new migration, not a new pin.
"""

import datetime as dt

from alembic import op

from dancu.units import loading

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

REFORM_DATE = dt.date(2025, 7, 1)

LEGACY = loading.SchemeSpec(
    code="legacy",
    name="63 provinces, three levels (province, district, commune)",
    # the package lists the 10,035 communes left by the 2023-2025 commune
    # mergers, i.e. the units in force from 1 January 2025
    valid_from=dt.date(2025, 1, 1),
    valid_to=REFORM_DATE - dt.timedelta(days=1),
    has_districts=True,
    legal_basis="Decision 124/2004/QĐ-TTg (unit codes) as amended up to 1 January 2025",
)

SCHEME_2025 = loading.SchemeSpec(
    code="2025",
    name="34 provinces, two levels (province, commune)",
    valid_from=REFORM_DATE,
    valid_to=None,
    has_districts=False,
    legal_basis=(
        "Resolution 202/2025/QH15 of 12 June 2025 (provinces); "
        "Resolutions 1654/NQ-UBTVQH15 to 1687/NQ-UBTVQH15 of 16 June 2025 (communes)"
    ),
)


def upgrade() -> None:
    conn = op.get_bind()
    reform = loading.read_vietnamadminunits_2025()
    loading.insert_scheme(conn, LEGACY)
    loading.insert_scheme(conn, SCHEME_2025)
    loading.insert_units(conn, LEGACY.code, reform.old_units)
    loading.insert_units(conn, SCHEME_2025.code, reform.new_units)
    loading.insert_successions(conn, LEGACY.code, SCHEME_2025.code, reform.successions, REFORM_DATE)


def downgrade() -> None:
    conn = op.get_bind()
    loading.delete_scheme(conn, SCHEME_2025.code)
    loading.delete_scheme(conn, LEGACY.code)

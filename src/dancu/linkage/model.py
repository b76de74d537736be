"""The Splink model: comparisons, blocking rules, unsupervised training, scoring and clustering.

Fellegi-Sunter on DuckDB (one machine) or Spark (a cluster; the same
settings, SQL translated by Splink). Every comparison works on the columns
written by ``dancu.linkage.prepare``; the reasons for each level are in
docs/linkage.md.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import splink.comparison_level_library as cll
import splink.comparison_library as cl
import splink.internals.expectation_maximisation as splink_em
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.internals.comparison_level import M_U_CLAMP_MIN
from splink.internals.splink_dataframe import SplinkDataFrame

from dancu.linkage.prepare import INTEGER_COLUMNS, LIST_COLUMNS, PREPARED_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[Engine, ...] = ("duckdb", "spark")

# Some levels describe errors too rare for EM to observe in most data sets
# (a name written given name first, a PIN keyed with one wrong digit). EM
# would give an unobserved level m = 1e-6, i.e. turn a typical keying error
# into proof of two different people; these m probabilities are therefore
# set, as the share of true duplicates expected to show the error.
NAME_ORDER_M = 0.01
PIN_KEYING_ERROR_M = 0.02
DAY_MONTH_SWAP_M = 0.02
# A record that names the other as its father, mother or spouse describes
# another person. m cannot be 0 in Splink; this makes the level decisive.
RELATIVE_M = 1e-9
# EM on a city's few hundred duplicates finds m = 0 for differences it never
# saw (a given name mistyped twice, a date both swapped and a year off), and
# m = 0 makes such a pair impossible whatever else agrees. Every level keeps
# at least this m: strong evidence against, never proof.
M_FLOOR = 1e-4
# u of the name-order level: two different people whose name words coincide
# in another order. Random sampling almost never meets such a pair, so u is set
# too, at an upper bound: about the chance that two people share a full name.
NAME_ORDER_U = 1e-3
# Pairs sharing a PIN needed for the PIN round of EM: below this, too few to
# estimate from (see training_blocking_rules).
MIN_SHARED_PIN_PAIRS = 50
# A copy of unique_id that the relatives comparison reads: when a comparison
# uses unique_id itself, Splink's u sampling selects unique_id_l twice, which
# DuckDB allows and Spark refuses (AMBIGUOUS_REFERENCE).
OWN_ID = "own_id"


def _level(sql_condition: str, label: str) -> cll.CustomLevel:
    """A level written in DuckDB's SQL; Splink translates it (sqlglot) for Spark."""
    return cll.CustomLevel(sql_condition, label_for_charts=label, base_dialect_str="duckdb")


def _same_words_other_order(column: str) -> cll.CustomLevel:
    # Only the compared part and the word list: a comparison that used another
    # name part would be left out of EM rounds blocking on that part.
    return _level(
        f"name_words_l = name_words_r AND {column}_l <> {column}_r",
        "Same name words in another order",
    ).configure(m_probability=NAME_ORDER_M, fix_m_probability=True,
                u_probability=NAME_ORDER_U, fix_u_probability=True)


def _name_part(column: str, label: str) -> cl.CustomComparison:
    """Exact (weighted by how common the name is), another word order, a keying error, similar, different."""
    levels: list[Any] = [
        cll.NullLevel(column),
        cll.ExactMatchLevel(column, term_frequency_adjustments=True),
        _same_words_other_order(column),
        cll.DamerauLevenshteinLevel(column, 1),
        cll.JaroWinklerLevel(column, 0.88),
        cll.ElseLevel(),
    ]
    return cl.CustomComparison(levels, output_column_name=column, comparison_description=label)


def _birth_date() -> cl.CustomComparison:
    """Partial dates agree as far as both are known; day/month swaps and year slips are their own levels."""
    return cl.CustomComparison(
        [
            _level("birth_year_l IS NULL OR birth_year_r IS NULL",
                            "Date of birth unknown").configure(is_null_level=True),
            _level("birth_day_l IS NOT NULL AND birth_date_l = birth_date_r",
                            "Same full date"),
            _level("birth_year_l = birth_year_r AND birth_month_l = birth_day_r "
                            "AND birth_day_l = birth_month_r", "Day and month swapped",
                            ).configure(m_probability=DAY_MONTH_SWAP_M, fix_m_probability=True),
            _level("birth_year_l = birth_year_r AND birth_month_l = birth_month_r",
                            "Same year and month (day differs or unknown)"),
            _level("abs(birth_year_l - birth_year_r) = 1 AND birth_month_l = birth_month_r "
                            "AND birth_day_l = birth_day_r", "Same day and month, year off by one"),
            _level("birth_year_l = birth_year_r", "Same year"),
            cll.ElseLevel(),
        ],
        output_column_name="birth_date",
        comparison_description="Date of birth (partial dates allowed)",
    )


def _pin() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("pin"),
            cll.ExactMatchLevel("pin"),
            # PINs are all 12 digits, so distance 1 is one wrong digit or two adjacent digits swapped
            cll.DamerauLevenshteinLevel("pin", 1).configure(m_probability=PIN_KEYING_ERROR_M,
                                                           fix_m_probability=True),
            cll.ElseLevel(),
        ],
        output_column_name="pin",
        comparison_description="Personal identification number",
    )


def _residence() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("commune"),
            cll.ExactMatchLevel("commune", term_frequency_adjustments=True),
            cll.ExactMatchLevel("province"),
            cll.ElseLevel(),
        ],
        output_column_name="commune",
        comparison_description="Residence: today's commune, else province",
    )


def _origin() -> cl.CustomComparison:
    """Hometown and birth-registration commune together.

    Both are usually the parents' commune, so siblings and cousins share them:
    compared separately they would count one family fact twice.
    """
    return cl.CustomComparison(
        [
            _level("(hometown_l IS NULL OR hometown_r IS NULL) "
                            "AND (birthplace_l IS NULL OR birthplace_r IS NULL)",
                            "Hometown and birth commune unknown").configure(is_null_level=True),
            _level("hometown_l = hometown_r AND birthplace_l = birthplace_r",
                            "Same hometown and birth commune"),
            _level("hometown_l = hometown_r OR birthplace_l = birthplace_r",
                            "Same hometown or birth commune"),
            _level("hometown_province_l = hometown_province_r "
                            "OR birthplace_province_l = birthplace_province_r",
                            "Same province of hometown or birth"),
            cll.ElseLevel(),
        ],
        output_column_name="origin",
        comparison_description="Hometown and birth registration, in today's units",
    )


def _relatives() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            _level("relatives_l IS NULL AND relatives_r IS NULL",
                            "No relatives recorded").configure(is_null_level=True),
            _level(f"list_contains(relatives_l, {OWN_ID}_r) OR list_contains(relatives_r, {OWN_ID}_l)",
                            "One names the other as father, mother or spouse",
                            ).configure(m_probability=RELATIVE_M, fix_m_probability=True),
            cll.ElseLevel(),
        ],
        output_column_name="relatives",
        comparison_description="Family links within the source",
    )


def comparisons() -> list[cl.CustomComparison | cl.ExactMatch]:
    return [
        _name_part("family_f", "Family name (folded)"),
        _name_part("middle_f", "Middle name (folded)"),
        _name_part("given_f", "Given name (folded)"),
        _birth_date(),
        cl.ExactMatch("sex"),
        _pin(),
        _residence(),
        _origin(),
        _relatives(),
    ]


def prediction_blocking_rules() -> list:
    """Pairs are only scored when one of these holds; none is a cartesian product.

    Each rule catches duplicates the others miss: a typo in the given name
    (family name + full date), a wrong birth year (whole name + day and
    month), both at once within a commune, or a reused PIN.

    Given name + birth year alone made 90 % of the candidate pairs at
    100,000 persons (906,705 of 1,007,369; growing with the square of the
    city) and found 2 true pairs no other rule found; with the birth month
    added it finds the same 2 in 77,420 pairs. The whole name + year keeps
    year-only dates and day/month swaps.
    """
    return [
        block_on("pin"),
        block_on("given_f", "birth_year", "birth_month"),
        block_on("family_f", "middle_f", "given_f", "birth_year"),
        block_on("family_f", "birth_year", "birth_month", "birth_day"),
        block_on("family_f", "middle_f", "given_f", "birth_month", "birth_day"),
        block_on("family_f", "given_f", "commune"),
        block_on("birthplace", "hometown", "birth_year", "sex"),
        block_on("family_f", "birth_month", "birth_day", "birthplace"),
        block_on("given_f", "birth_month", "birth_day", "birthplace"),
    ]


def training_blocking_rules(shared_pins: bool = True) -> list:
    """EM rounds, each on pairs that are nearly all duplicates: m is estimated for the comparisons its rule does not use.

    EM finds the strongest cluster among the pairs it is given. Among pairs
    sharing a name (or a given name and a birth year), the strongest cluster
    at city scale is not the duplicates but the families and neighbours:
    same name, same commune, same hometown, different date of birth. At
    100,000 persons EM on such rounds learnt "same full date" m = 0.37 and
    "other date" m = 0.56, and relatives of the same name became duplicates
    (precision 0.918). Both rounds here hold almost only duplicates:
    the same PIN (a re-registration that kept its number: every other
    comparison), and the same full name and full date (the PIN, sex and
    places).

    Without enough records sharing a PIN (``shared_pins`` False: an agency
    file without numbers, a small data set) the names and the date are
    estimated on rounds that block on other name parts and the year,
    which is good on a few thousand records but drifts at scale.
    """
    if shared_pins:
        return [
            block_on("pin"),
            block_on("family_f", "middle_f", "given_f", "birth_date"),
        ]
    return [
        block_on("given_f", "birth_year"),  # family and middle name, PIN, places
        block_on("family_f", "birth_year", "birth_month", "birth_day"),  # given and middle name
        block_on("family_f", "middle_f", "given_f"),  # date of birth
    ]


def deterministic_rules() -> list:
    """Near-certain matches, counted to estimate the share of duplicates."""
    return [
        block_on("family_f", "middle_f", "given_f", "birth_date", "sex"),
        block_on("pin", "given_f"),
    ]


def settings() -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def explain_pair(left: dict, right: dict) -> dict[str, str]:
    """The level each comparison puts a pair of prepared records in, by comparison name.

    What a reviewer needs to see why two records scored as they did.
    """
    left, right = ({**record, OWN_ID: record["unique_id"]} for record in (left, right))
    names = (*PREPARED_COLUMNS, OWN_ID)
    columns = [f"{c}_{side}" for c in names for side in ("l", "r")]
    values = [record[c] for c in names for record in (left, right)]
    types = [_sql_type(c) for c in names for _ in "lr"]
    row = ", ".join(f"CAST(? AS {t}) AS {c}" for c, t in zip(columns, types, strict=True))
    cases = []
    for creator in comparisons():
        comparison = creator.get_comparison("duckdb")
        whens = " ".join(
            f"ELSE {_quoted(level.label_for_charts)}" if level.sql_condition == "ELSE"
            else f"WHEN {level.sql_condition} THEN {_quoted(level.label_for_charts)}"
            for level in comparison.comparison_levels
        )
        cases.append(f"CASE {whens} END AS {comparison.output_column_name}")
    with duckdb.connect(":memory:") as connection:
        cursor = connection.execute(f"SELECT {', '.join(cases)} FROM (SELECT {row})", values)
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchall()[0], strict=True))


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_type(column: str) -> str:
    if column in INTEGER_COLUMNS:
        return "INTEGER"
    return "VARCHAR[]" if column in LIST_COLUMNS else "VARCHAR"


def _completed(model: dict, m_floor: float, u_unseen: float) -> dict:
    """The trained model with an m and a u for every level.

    Levels EM never saw get m = ``m_floor`` and every estimated m is raised to
    at least that (rescaled so that a comparison's m still sum to 1, the set
    ones unchanged); levels random sampling never met get u = ``u_unseen``. Left out,
    Splink would give both its generic defaults, which know nothing of the data.
    """
    for comparison in model["comparisons"]:
        levels = [level for level in comparison["comparison_levels"] if not level.get("is_null_level")]
        for level in levels:
            if not level.get("fix_m_probability"):
                level["m_probability"] = max(level.get("m_probability") or 0.0, m_floor)
            level.setdefault("u_probability", u_unseen)
        fixed = sum(level["m_probability"] for level in levels if level.get("fix_m_probability"))
        free = sum(level["m_probability"] for level in levels if not level.get("fix_m_probability"))
        for level in levels:
            if not level.get("fix_m_probability"):
                level["m_probability"] *= (1 - fixed) / free
    return model


def _written_for(model: dict, engine: Engine) -> dict:
    """A trained model with its SQL (levels, blocking rules) written for ``engine``.

    A saved model holds the SQL of the engine that trained it, and the two
    differ (DuckDB quotes names with "", Spark with ``; ``list_contains`` is
    ``array_contains``): the trained numbers are kept, the SQL is rewritten
    from the same settings.
    """
    fresh = settings().create_settings_dict(engine)
    model = copy.deepcopy(model)
    for trained, written in zip(model["comparisons"], fresh["comparisons"], strict=True):
        for level, written_level in zip(trained["comparison_levels"], written["comparison_levels"], strict=True):
            level["sql_condition"] = written_level["sql_condition"]
    model["blocking_rules_to_generate_predictions"] = fresh["blocking_rules_to_generate_predictions"]
    model["sql_dialect"] = engine
    return model


@contextmanager
def _em_without_underflow() -> Iterator[None]:
    """Work around Splink 5.0.0 rejecting its own EM estimates.

    A level met only by clear non-matches gets m ~ 1e-321 from the
    maximisation step, which Splink's own setter then refuses (values under
    1e-300 raise ValueError) and the whole training fails. While training,
    estimates are clamped to that minimum before they are set; ``M_FLOOR``
    raises them further afterwards.
    """
    original = splink_em.populate_m_u_from_lookup

    def clamped(fixed, level, column, lookup):
        for values in lookup.get(column, {}).values():
            for key in ("m_probability", "u_probability"):
                if isinstance(values.get(key), float) and values[key] < M_U_CLAMP_MIN:
                    values[key] = M_U_CLAMP_MIN
        return original(fixed, level, column, lookup)

    splink_em.populate_m_u_from_lookup = clamped
    try:
        yield
    finally:
        splink_em.populate_m_u_from_lookup = original


def local_spark_session(cores: int = 1, memory: str = "1g", work_dir: str | None = None) -> SparkSession:
    """A Spark session on this machine only, for tests and for trying the Spark path without a cluster.

    ``local[cores]``, no web UI, the driver bound to 127.0.0.1, Splink's
    similarity functions (Jaro-Winkler, Damerau-Levenshtein) from the jar
    shipped inside Splink: nothing is fetched from the network.
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    work_dir = work_dir or tempfile.mkdtemp(prefix="dancu-spark-")
    session = (
        SparkSession.builder.master(f"local[{int(cores)}]").appName("dancu-linkage")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.jars", similarity_jar_location())
        .config("spark.local.dir", work_dir)
        .config("spark.sql.warehouse.dir", f"{work_dir}/warehouse")
        # a handful of partitions: the default 200 is for clusters and costs seconds per query here
        .config("spark.sql.shuffle.partitions", str(max(2, 2 * int(cores))))
        .config("spark.default.parallelism", str(max(2, 2 * int(cores))))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(f"{work_dir}/checkpoints")
    return session


class _DuckDB:
    """Splink's tables in an in-memory DuckDB database."""

    def __init__(self, threads: int | None) -> None:
        self.connection = duckdb.connect(":memory:")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        self.api = DuckDBAPI(self.connection)

    def rows(self, sql: str) -> Iterator[tuple]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            while batch := cursor.fetchmany(10_000):
                yield from batch
        finally:
            cursor.close()

    def close(self) -> None:
        self.connection.close()


class _Spark:
    """Splink's tables as Spark views, in the session given (a cluster) or in a local one."""

    def __init__(self, session: SparkSession | None) -> None:
        from splink.backends.spark import SparkAPI

        self._own_session = session is None
        self.session = session or local_spark_session()
        # intermediate tables cached in the executors; parquet files under the
        # checkpoint directory would be Splink's choice for a long cluster job
        self.api = SparkAPI(spark_session=self.session, break_lineage_method="persist")

    def rows(self, sql: str) -> Iterator[tuple]:
        for row in self.session.sql(sql).toLocalIterator():
            yield tuple(row)

    def close(self) -> None:
        self.session.catalog.clearCache()
        if self._own_session:
            self.session.stop()


@dataclass(frozen=True)
class ScoredPair:
    left_record: str
    right_record: str
    match_weight: float
    match_probability: float


class DedupeModel:
    """One data set deduplicated with the model: train, score, cluster.

    ``engine``: ``duckdb`` (default, in memory, ``threads`` caps its worker
    threads, None: one per core) or ``spark`` (the session ``spark``, else a
    local one, see ``local_spark_session``); both run the same settings.
    ``recall_of_exact_rules`` is the share of true duplicates assumed to agree
    on a deterministic rule, used to estimate the prior of a match.
    """

    def __init__(self, records: pa.Table, *, engine: Engine = "duckdb", threads: int | None = None,
                 spark: SparkSession | None = None, seed: int = 42, u_sample_pairs: float = 1e6,
                 em_max_pairs: float = 5e6, recall_of_exact_rules: float = 0.6) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
        if records.num_rows < 2:
            raise ValueError("linkage needs at least two records")
        if pc.count_distinct(records["unique_id"]).as_py() != records.num_rows:
            raise ValueError("record_id values must be unique within the data set")
        self.records = records.num_rows
        self.engine = engine
        self.seed = seed
        self.u_sample_pairs = u_sample_pairs
        self.em_max_pairs = em_max_pairs
        self.recall_of_exact_rules = recall_of_exact_rules
        pins_used = pc.value_counts(records["pin"].drop_null()).field("counts").to_numpy().astype("int64")
        self.shared_pin_pairs = int((pins_used * (pins_used - 1) // 2).sum())
        self._backend = _DuckDB(threads) if engine == "duckdb" else _Spark(spark)
        # a generated table name: a Spark session may hold several models' tables
        self._table = self._backend.api.register(records.append_column(OWN_ID, records["unique_id"]))
        self.linker = Linker(self._table, settings(), log_level=logging.ERROR)
        self._predictions: SplinkDataFrame | None = None

    def train(self) -> None:
        """Expectation maximisation without labels: prior from exact rules, u by random sampling, m by EM."""
        training = self.linker.training
        training.estimate_probability_two_random_records_match(deterministic_rules(), self.recall_of_exact_rules)
        training.estimate_u_using_random_sampling(max_pairs=self.u_sample_pairs, seed=self.seed)
        with _em_without_underflow():
            for rule in training_blocking_rules(self.shared_pin_pairs >= MIN_SHARED_PIN_PAIRS):
                training.estimate_parameters_using_expectation_maximisation(rule, max_pairs=self.em_max_pairs)
        # not met in n random pairs: u is below 3/n with 95 % confidence (the rule of three)
        self.use_model(_completed(self.linker.misc.save_model_to_json(), M_FLOOR, 3 / self.u_sample_pairs))

    def use_model(self, model: dict) -> None:
        """Score with a model trained before (``model_json()``), possibly by the other engine."""
        self.linker = Linker(self._table, _written_for(model, self.engine), log_level=logging.ERROR)
        self._predictions = None

    def score(self) -> int:
        """Score every candidate pair of the blocking rules; returns how many were scored."""
        self._predictions = self.linker.inference.predict()
        [(count,)] = self._backend.rows(f"SELECT count(*) FROM {self._predictions.physical_name}")
        return count

    def pairs(self, min_probability: float) -> Iterator[ScoredPair]:
        """Scored pairs at or above a match probability, strongest first."""
        if self._predictions is None:
            raise RuntimeError("score() first")
        rows = self._backend.rows(
            "SELECT unique_id_l, unique_id_r, match_weight, match_probability "
            f"FROM {self._predictions.physical_name} WHERE match_probability >= {float(min_probability)!r} "
            "ORDER BY match_weight DESC, unique_id_l, unique_id_r")
        for left, right, weight, probability in rows:
            yield ScoredPair(left, right, float(weight), float(probability))

    def clusters(self, threshold: float) -> dict[str, str]:
        """record id -> cluster id (the smallest record id of its cluster) at a match probability."""
        if self._predictions is None:
            raise RuntimeError("score() first")
        clustered = self.linker.clustering.cluster_pairwise_predictions_at_threshold(
            self._predictions, threshold_match_probability=threshold)
        rows = self._backend.rows(f"SELECT unique_id, cluster_id FROM {clustered.physical_name}")
        return {str(record): str(cluster) for record, cluster in rows}

    def model_json(self) -> dict:
        return self.linker.misc.save_model_to_json()

    def close(self) -> None:
        self._backend.close()

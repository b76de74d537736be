"""The same Splink model on Spark (a small local session) finds the same duplicates as on DuckDB."""

import os
import shutil

import pytest

from dancu.linkage import services
from dancu.linkage.model import DedupeModel, local_spark_session

# a local session is a JVM: Java must be there (scripts/lib.sh installs default-jre-headless)
if shutil.which("java") is None:
    if os.environ.get("CI"):
        pytest.fail("Java is missing: the Spark path cannot be tested", pytrace=False)
    pytest.skip("Java is not installed (CI installs default-jre-headless)", allow_module_level=True)

# fewer random pairs for u: the test compares engines, not accuracy
U_SAMPLE_PAIRS = 1e5
THRESHOLD = 0.95


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    session = local_spark_session(cores=1, memory="1g", work_dir=str(tmp_path_factory.mktemp("spark")))
    yield session
    session.stop()


@pytest.fixture
def records(session, write_city):
    path, _ = write_city(1_200, seed=21, errors=0.2)
    return services.prepare_file(session, path)


def _scored(model: DedupeModel) -> tuple[dict[tuple[str, str], float], dict[str, str]]:
    model.score()
    weights = {(p.left_record, p.right_record): p.match_weight for p in model.pairs(0.5)}
    return weights, model.clusters(THRESHOLD)


def test_a_model_trained_on_duckdb_scores_the_same_on_spark(records, spark):
    duckdb = DedupeModel(records, threads=1, u_sample_pairs=U_SAMPLE_PAIRS)
    try:
        duckdb.train()
        trained = duckdb.model_json()
        on_duckdb, clusters_duckdb = _scored(duckdb)
    finally:
        duckdb.close()
    on_spark_model = DedupeModel(records, engine="spark", spark=spark)
    try:
        on_spark_model.use_model(trained)
        on_spark, clusters_spark = _scored(on_spark_model)
    finally:
        on_spark_model.close()

    assert on_duckdb and set(on_spark) == set(on_duckdb)
    # the same SQL, translated: weights agree to rounding
    assert max(abs(on_spark[pair] - weight) for pair, weight in on_duckdb.items()) < 1e-9
    assert clusters_spark == clusters_duckdb


def test_an_unknown_engine_is_refused(records):
    with pytest.raises(ValueError, match="unknown engine"):
        DedupeModel(records, engine="sqlite")


def test_the_cli_offers_the_engines_and_refuses_others(write_city):
    from typer.testing import CliRunner

    from dancu.cli import app

    path, truth = write_city(10, seed=1, errors=0.0)
    result = CliRunner().invoke(app, ["linkage", "evaluate", str(path), "--truth", str(truth), "--engine", "sqlite"])
    assert result.exit_code == 2 and "duckdb" in result.output and "spark" in result.output, result.output

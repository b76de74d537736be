"""`dancu linkage run` and `dancu linkage evaluate` as an operator runs them."""

import json
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from dancu.cli import app
from dancu.linkage.models import LinkageRun

runner = CliRunner()


def test_evaluate_prints_the_scores_as_json(write_city):
    path, truth = write_city(1_000, seed=11, errors=0.2)
    result = runner.invoke(app, ["linkage", "evaluate", str(path), "--truth", str(truth), "--threads", "1",
                                 "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["records"] > 1_000 and scores["true_pairs"] > 0
    assert scores["threshold"] == 0.95
    # a small city gives EM few duplicates to learn from; the 5,000-person test holds the real bound
    assert scores["f1"] >= 0.9, scores
    assert scores["pairs_per_second"] > 0 and scores["wall_seconds"] > 0


def test_run_writes_the_files_and_stores_the_run(session, write_city, tmp_path):
    path, _ = write_city(600, seed=12, errors=0.2)
    out = tmp_path / "linkage-out"
    result = runner.invoke(app, ["linkage", "run", str(path), "--out", str(out), "--threshold", "0.9",
                                 "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert Path(summary["pairs_csv"]).parent == out and Path(summary["clusters_csv"]).exists()
    run = session.scalars(select(LinkageRun)).one()
    assert (run.id, run.threshold, run.records) == (summary["run_id"], 0.9, summary["records"])

    listed = runner.invoke(app, ["linkage", "runs", "--json"])
    assert listed.exit_code == 0, listed.output
    [info] = json.loads(listed.stdout)
    assert (info["id"], info["source"], info["matched_pairs"]) == (run.id, str(path), summary["matched_pairs"])


def test_run_needs_exactly_one_input_and_a_purpose_for_the_register(database_url, tmp_path):
    neither = runner.invoke(app, ["linkage", "run"])
    assert neither.exit_code == 2 and "FILE or --register" in neither.output
    no_purpose = runner.invoke(app, ["linkage", "run", "--register", "--out", str(tmp_path)])
    assert no_purpose.exit_code == 2 and "purpose" in no_purpose.output


def test_thresholds_out_of_order_are_refused(write_city):
    path, _ = write_city(10, seed=1, errors=0.0)
    result = runner.invoke(app, ["linkage", "run", str(path), "--threshold", "0.5", "--review-threshold", "0.8"])
    assert result.exit_code == 2 and "review_threshold" in result.output

"""Clerical review: weights explained per comparison, the queue, decisions (audited) and decisions as labels."""

import json
import math

import pytest
from sqlalchemy import select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor, PermissionDenied
from dancu.audit.models import AccessLogEntry
from dancu.linkage import review, services
from dancu.linkage.models import LinkagePair
from dancu.linkage.schemas import LinkageOptions, PairQuery

ADMIN = Actor("linker", Role.ADMIN)
REGISTRAR = Actor("canbo", Role.REGISTRAR)
AUDITOR = Actor("kiemtra", Role.AUDITOR)
QUICK = LinkageOptions(threads=1, u_sample_pairs=2e5)


@pytest.fixture
def file_run(session, write_city, tmp_path):
    path, truth = write_city(600, seed=11, errors=0.2)
    summary = services.run_linkage(session, ADMIN, path=path, out_dir=tmp_path / "out", options=QUICK)
    return summary, path, truth


def test_waterfall_adds_up_to_splinks_match_weight(session, file_run):
    summary, _path, _truth = file_run
    stored = session.scalars(select(LinkagePair).where(LinkagePair.run_id == summary.run_id)).all()
    assert len(stored) > 20
    prior = review.get_pair(session, ADMIN, stored[0].id, "checking the explanation").prior_weight
    for pair in stored:
        bars = json.loads(pair.comparisons)
        assert [bar["comparison"] for bar in bars][:3] == ["family_f", "middle_f", "given_f"]
        assert math.isclose(prior + sum(b["weight"] + b["tf"] for b in bars), pair.match_weight, abs_tol=1e-6)


def test_queue_filters_and_pages(session, file_run):
    summary, _path, _truth = file_run
    everything = review.list_pairs(session, AUDITOR, PairQuery(run_id=summary.run_id, page_size=200))
    assert everything.total == len(everything.items) > 20
    weights = [row.match_weight for row in everything.items]
    assert weights == sorted(weights, reverse=True)
    low, high = weights[-1], weights[len(weights) // 2]
    band = review.list_pairs(session, AUDITOR, PairQuery(run_id=summary.run_id, min_weight=low, max_weight=high,
                                                         page_size=200))
    assert band.items and all(low <= row.match_weight < high for row in band.items)
    assert band.total == sum(low <= w < high for w in weights)
    second = review.list_pairs(session, AUDITOR, PairQuery(run_id=summary.run_id, page=2, page_size=5))
    assert [row.id for row in second.items] == [row.id for row in everything.items[5:10]]


def test_decisions_are_stored_audited_and_leave_the_undecided_queue(session, file_run):
    summary, _path, _truth = file_run
    first = review.list_pairs(session, REGISTRAR, PairQuery(run_id=summary.run_id, undecided=True)).items[0]
    detail = review.get_pair(session, REGISTRAR, first.id, "clerical review")
    assert detail.left.record_id == first.left_record and detail.left.fields["full_name"]
    assert detail.comparisons and not detail.of_register

    review.decide(session, REGISTRAR, first.id, "unsure")
    decision = review.decide(session, REGISTRAR, first.id, "match", note="same parents")
    session.commit()
    assert (decision.actor, decision.decision) == ("canbo", "match") and decision.decided_at
    detail = review.get_pair(session, AUDITOR, first.id, "audit of decisions")
    assert [d.decision for d in detail.decisions] == ["match", "unsure"]
    undecided = review.list_pairs(session, REGISTRAR, PairQuery(run_id=summary.run_id, undecided=True, page_size=200))
    assert first.id not in {row.id for row in undecided.items}
    logged = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "linkage.decide")).all()
    assert [(e.actor, e.subject_id, e.detail) for e in logged] == [("canbo", str(first.id), "unsure"),
                                                                   ("canbo", str(first.id), "match")]
    # reading the two records side by side is logged with the purpose
    reads = session.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "linkage.review")).all()
    assert {e.purpose for e in reads} == {"clerical review", "audit of decisions"}


def test_an_auditor_reads_but_does_not_decide(session, file_run):
    summary, _path, _truth = file_run
    pair_id = review.list_pairs(session, AUDITOR, PairQuery(run_id=summary.run_id)).items[0].id
    with pytest.raises(PermissionDenied):
        review.decide(session, AUDITOR, pair_id, "match")
    with pytest.raises(review.ReviewError):
        review.decide(session, REGISTRAR, pair_id, "maybe")


def test_decisions_are_labels_for_evaluation(session, file_run):
    summary, path, truth = file_run
    true_pairs = services.truth_pairs(truth)
    rows = review.list_pairs(session, ADMIN, PairQuery(run_id=summary.run_id, page_size=200)).items
    for row in rows:
        is_true = (row.left_record, row.right_record) in true_pairs
        review.decide(session, REGISTRAR, row.id, "match" if is_true else "non_match")
    session.commit()
    scored = review.evaluate_run(session, summary.run_id)
    assert scored.decided_pairs == len(rows)
    expected_hits = sum((r.left_record, r.right_record) in true_pairs and r.match_probability >= QUICK.threshold
                        for r in rows)
    assert scored.true_positives == expected_hits
    assert scored.precision > 0.9 and scored.f1 > 0.9

    # alongside the ground truth: a decision overrides it for its pair
    labels = review.decision_labels(session, summary.run_id)
    assert all(is_match == (pair in true_pairs) for pair, is_match in labels.items())
    wrong = {pair: not is_match for pair, is_match in list(labels.items())[:3]}
    with_truth = services.evaluate_file(session, path, truth, QUICK)
    overridden = services.evaluate_file(session, path, truth, QUICK, decisions=wrong)
    assert overridden.true_pairs != with_truth.true_pairs or overridden.precision != with_truth.precision

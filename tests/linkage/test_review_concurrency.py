"""Two reviewers acting on one pair at once: really concurrent, each with its own session and connection.

merge_pair read the pair ("decided match", "not merged yet"), decided and
merged; several at once each merged. The pair is now locked for a decision, a
merge or an undo (and the merge locks both persons).
"""

from __future__ import annotations

from at_once import at_once
from sqlalchemy import func, select

from dancu.accounts.models import Role
from dancu.accounts.services import Actor
from dancu.linkage import review, services
from dancu.linkage.schemas import LinkageOptions, PairQuery
from dancu.registry import merge
from dancu.registry.bulk import import_file
from dancu.registry.models import Person

ADMIN = Actor("linker", Role.ADMIN)
REVIEWER = Actor("canbo", Role.REGISTRAR)
QUICK = LinkageOptions(threads=1, u_sample_pairs=2e5)
CLIENTS = 6


def test_a_pair_merged_by_several_reviewers_at_once_is_merged_once(session, write_city, tmp_path):
    path, truth = write_city(300, seed=21, errors=0.25)
    import_file(path, progress=False)
    person_of = {ref.rsplit("/", 1)[1]: pid for pid, ref in session.execute(select(Person.id, Person.source_ref))}
    duplicates = {tuple(sorted((person_of[a], person_of[b]))) for a, b in services.truth_pairs(truth)}
    summary = services.run_linkage(session, ADMIN, path=None, purpose="duplicate check of the register",
                                   out_dir=tmp_path, options=QUICK)
    rows = review.list_pairs(session, ADMIN, PairQuery(run_id=summary.run_id, page_size=200)).items
    pairs = [r.id for r in rows if (int(r.left_record), int(r.right_record)) in duplicates][:3]
    assert pairs
    for pair_id in pairs:
        review.decide(session, REVIEWER, pair_id, "match")
        session.commit()
        results = at_once(CLIENTS, lambda i, s: review.merge_pair(s, REVIEWER, pair_id, None, "bản ghi trùng"))
        assert sum(isinstance(r, int) for r in results) == 1, results
        assert all(isinstance(r, review.ReviewError | merge.MergeError) for r in results
                   if not isinstance(r, int)), results
        pair = review.get_pair(session, REVIEWER, pair_id, "clerical review")
        assert session.scalar(select(func.count()).select_from(merge.PersonMerge).where(
            merge.PersonMerge.survivor_id == pair.left.person_id)) == 1
        session.commit()

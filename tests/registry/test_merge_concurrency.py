"""Merges of one record at once: really concurrent, each with its own session and connection.

A merge read both records ("not merged yet"), decided and wrote; two at once
(two reviewers, or A into B beside B into A) could both go through and leave
each record retired into the other. Both persons are now locked (in id order)
across the merge and its undo, and the merge row across its undo.
"""

from __future__ import annotations

from at_once import at_once
from sqlalchemy import func, select

from dancu.registry import merge
from dancu.registry.models import RegistryEvent

CLIENTS = 6
ROUNDS = 3  # a race lost by chance in one round is seldom lost in every round


def test_concurrent_merges_of_one_pair_either_way_merge_once(session, registrar, make_person):
    for round_ in range(ROUNDS):
        first, second = make_person(f"Nguyễn Văn An{round_}"), make_person(f"Nguyễn Văn An{round_}")
        results = at_once(CLIENTS, lambda i, s: merge.merge_persons(
            s, registrar, *((first, second) if i % 2 else (second, first)), "bản ghi trùng").id)
        assert sum(isinstance(r, int) for r in results) == 1, results
        assert all(isinstance(r, merge.MergeError) for r in results if not isinstance(r, int)), results
        assert session.scalar(select(func.count()).select_from(merge.PersonMerge).where(
            merge.PersonMerge.undone_at.is_(None),
            merge.PersonMerge.survivor_id.in_((first, second)))) == 1


def test_a_merge_undone_twice_at_once_is_undone_once(session, registrar, make_person):
    for round_ in range(ROUNDS):
        survivor, retired = make_person(f"Trần Thị Bình{round_}"), make_person(f"Trần Thị Bình{round_}")
        made = merge.merge_persons(session, registrar, survivor, retired, "bản ghi trùng").id
        session.commit()
        results = at_once(CLIENTS, lambda i, s: merge.undo_merge(s, registrar, made, "gộp nhầm"))
        assert sum(r is not None and not isinstance(r, Exception) for r in results) == 1, results
        assert all(isinstance(r, merge.MergeError) and "already undone" in str(r)
                   for r in results if isinstance(r, Exception)), results
        assert session.scalar(select(func.count()).select_from(RegistryEvent).where(
            RegistryEvent.person_id == survivor, RegistryEvent.kind == "merge_undone")) == 1

"""`dancu linkage`: deduplicate a file or the register, score the model, review pairs, merge, link agency data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from dancu.accounts.cli_actor import cli_actor
from dancu.accounts.services import PermissionDenied
from dancu.audit.services import PurposeRequired
from dancu.config import get_settings
from dancu.db import session_scope
from dancu.linkage import agency, review, services
from dancu.linkage.schemas import LinkageOptions, PairQuery, RejectedRow
from dancu.registry.services import PersonNotFound, RegistryError
from dancu.tabular import DEFAULT_ENCODING

app = typer.Typer(help="Record linkage: find duplicate persons (Splink on DuckDB), review them, link agency data.",
                  no_args_is_help=True)
review_app = typer.Typer(help="Clerical review of stored pairs: list, show, decide, merge, undo.",
                         no_args_is_help=True)
app.add_typer(review_app, name="review")

_THRESHOLD = typer.Option(0.95, "--threshold", min=0.0, max=1.0,
                          help="Match probability from which a pair is a duplicate.")
_THREADS = typer.Option(None, "--threads", min=1, help="DuckDB threads (default: one per core).")
_ENGINE = typer.Option("duckdb", "--engine", help="duckdb (default, one machine) or spark (pyspark; needs Java).")
_JSON = typer.Option(False, "--json", help="Print the result as JSON.")
_QUIET = typer.Option(False, "--quiet", "-q", help="No progress display.")
_ENCODING = typer.Option(DEFAULT_ENCODING, "--encoding",
                         help="Encoding of the input files (default UTF-8; e.g. cp1258, latin-1 for old systems).")
# Rejected rows listed on standard error; the rest are counted.
_SHOWN_REJECTED = 20


class _RichSteps:
    """Each step is a line with a spinner and its elapsed time; counted steps show their count."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.current: int | None = None

    def step(self, label: str, total: int | None = None) -> Callable[[int], None]:
        self.finish()
        self.current = self.progress.add_task(label, total=total)
        task = self.current
        return lambda n: self.progress.advance(task, n)

    def finish(self) -> None:
        if self.current is not None:
            task = self.progress.tasks[self.current]
            self.progress.update(self.current, total=task.completed or 1, completed=task.completed or 1)


@contextmanager
def _steps(quiet: bool) -> Iterator[services.Steps]:
    if quiet:
        yield services.SilentSteps()
        return
    columns = (SpinnerColumn(finished_text="✓"), TextColumn("{task.description}"), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        steps = _RichSteps(progress)
        yield steps
        steps.finish()


def _options(**values) -> LinkageOptions:
    try:
        return LinkageOptions(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"error: {exc.errors()[0]['msg']}", err=True)
        raise typer.Exit(2) from None


def _rejected(rows: list[RejectedRow]) -> None:
    """Rows left out of the input go to standard error, and exit status 1 says some were (as for `dancu import`)."""
    if not rows:
        return
    for row in rows[:_SHOWN_REJECTED]:
        typer.echo(f"rejected: {row.file} line {row.line}: {row.reason}", err=True)
    more = f" ({len(rows) - _SHOWN_REJECTED:,} not shown)" if len(rows) > _SHOWN_REJECTED else ""
    typer.echo(f"{len(rows):,} rows rejected{more}; the other rows were used", err=True)
    raise typer.Exit(1)


def _print(title: str, rows: list[tuple[str, str]]) -> None:
    table = Table(title=title, show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)


@app.command("run")
def run(
    file: Path = typer.Argument(None, exists=True, dir_okay=False, readable=True,
                                help="CSV or JSON Lines file in the exchange format; omit with --register."),
    register: bool = typer.Option(False, "--register", help="Deduplicate the persons of the register."),
    purpose: str = typer.Option(None, "--purpose", help="Why the register is read (logged); needed with --register."),
    out: Path = typer.Option(None, "--out", file_okay=False,
                             help="Directory for the pairs and clusters CSV (default: $DANCU_DATA_DIR/linkage)."),
    threshold: float = _THRESHOLD,
    review_threshold: float = typer.Option(0.5, "--review-threshold", min=0.0, max=1.0,
                                           help="Pairs from this probability are kept for clerical review."),
    threads: int = _THREADS,
    engine: str = _ENGINE,
    encoding: str = _ENCODING,
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Find duplicates; store the run and its scored pairs; write pairs and clusters as CSV."""
    if (file is None) == (not register):
        typer.echo("error: give a FILE or --register (not both)", err=True)
        raise typer.Exit(2)
    options = _options(threshold=threshold, review_threshold=review_threshold, threads=threads, engine=engine)
    try:
        with session_scope() as session, _steps(quiet or as_json) as steps:
            summary = services.run_linkage(session, cli_actor(), path=file, purpose=purpose,
                                           out_dir=out or get_settings().data_dir / "linkage", options=options,
                                           steps=steps, encoding=encoding)
    except (ValueError, PurposeRequired, PermissionDenied) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
        _rejected(summary.rejected)
        return
    _print(f"linkage run {summary.run_id} of {summary.source}", [
        ("records", f"{summary.records:,}"),
        ("candidate pairs scored", f"{summary.candidate_pairs:,}"),
        (f"duplicate pairs (p ≥ {threshold})", f"{summary.matched_pairs:,}"),
        (f"pairs for review (p ≥ {review_threshold})", f"{summary.review_pairs:,}"),
        ("clusters of duplicates", f"{summary.clusters:,} ({summary.duplicate_records:,} records)"),
        ("pairs per second (scoring)", f"{summary.pairs_per_second:,.0f}"),
        ("wall time", f"{summary.seconds:.1f} s"),
        ("pairs", summary.pairs_csv),
        ("clusters", summary.clusters_csv),
    ])
    _rejected(summary.rejected)


@app.command("runs")
def runs(
    limit: int = typer.Option(20, "--limit", min=1, help="How many runs, most recent first."),
    as_json: bool = _JSON,
) -> None:
    """List stored linkage runs."""
    with session_scope() as session:
        found = services.list_runs(session, limit=limit)
    if as_json:
        typer.echo(json.dumps([run.model_dump(mode="json") for run in found], indent=2))
        return
    table = Table("run", "started", "source", "records", "candidate pairs", "duplicate pairs", "clusters",
                  "threshold", "seconds")
    for run in found:
        table.add_row(str(run.id), f"{run.started_at:%Y-%m-%d %H:%M}", run.source, f"{run.records:,}",
                      f"{run.candidate_pairs:,}", f"{run.matched_pairs:,}", f"{run.clusters:,}",
                      f"{run.threshold:g}", f"{run.seconds:.1f}")
    Console().print(table)


@app.command("evaluate")
def evaluate(
    file: Path = typer.Argument(None, exists=True, dir_okay=False, readable=True,
                                help="CSV or JSON Lines file in the exchange format, e.g. from `dancu seed --out`."),
    truth: Path = typer.Option(None, "--truth", exists=True, dir_okay=False, readable=True,
                               help="Ground truth: record_id,entity_id[,error_kinds]."),
    run: int = typer.Option(None, "--run", min=1,
                            help="Clerical decisions of this run as labels: alone (no FILE), or overriding --truth."),
    threshold: float = typer.Option(None, "--threshold", min=0.0, max=1.0,
                                    help="Match probability from which a pair is a duplicate (default 0.95, "
                                         "or the run's)."),
    threads: int = _THREADS,
    engine: str = _ENGINE,
    encoding: str = _ENCODING,
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Score duplicate detection: FILE against --truth (optionally with a run's decisions overriding it),
    or a stored run's pairs against its clerical decisions (--run without FILE)."""
    if file is None:
        if run is None:
            typer.echo("error: give FILE with --truth, or --run", err=True)
            raise typer.Exit(2)
        try:
            with session_scope() as session:
                decided = review.evaluate_run(session, run, threshold)
        except LookupError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(decided.model_dump_json(indent=2))
            return
        _print(f"run {run} against its clerical decisions", [
            ("decided pairs (match / not a match)", f"{decided.decided_pairs:,}"),
            ("decided matches", f"{decided.decided_matches:,}"),
            (f"predicted matches (p ≥ {decided.threshold})", f"{decided.predicted_matches:,}"),
            ("precision", f"{decided.precision:.4f}"),
            ("recall", f"{decided.recall:.4f}"),
            ("F1", f"{decided.f1:.4f}"),
        ])
        return
    if truth is None:
        typer.echo("error: FILE needs --truth", err=True)
        raise typer.Exit(2)
    options = _options(threshold=0.95 if threshold is None else threshold, threads=threads, engine=engine)
    try:
        with session_scope() as session, _steps(quiet or as_json) as steps:
            decisions = review.decision_labels(session, run) if run else None
            result = services.evaluate_file(session, file, truth, options, steps=steps, decisions=decisions,
                                            encoding=encoding)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        _rejected(result.rejected)
        return
    _print(f"evaluation of {file} against {truth}" + (f" and the decisions of run {run}" if run else ""), [
        ("records", f"{result.records:,}"),
        ("true duplicate pairs", f"{result.true_pairs:,}"),
        ("candidate pairs scored", f"{result.candidate_pairs:,}"),
        ("blocking recall", f"{result.blocking_recall:.4f}"),
        (f"predicted pairs (p ≥ {result.threshold})", f"{result.predicted_pairs:,}"),
        ("precision", f"{result.precision:.4f}"),
        ("recall", f"{result.recall:.4f}"),
        ("F1", f"{result.f1:.4f}"),
        ("pairs per second (scoring)", f"{result.pairs_per_second:,.0f}"),
        ("wall time", f"{result.wall_seconds:.1f} s"),
    ])
    _rejected(result.rejected)


# ---- clerical review -------------------------------------------------------------------------

_FAILURES = (ValueError, LookupError, PurposeRequired, PermissionDenied)


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(2)


@review_app.command("list")
def review_list(
    run: int = typer.Option(None, "--run", min=1, help="Pairs of this run only."),
    min_weight: float = typer.Option(None, "--min-weight", help="Lowest match weight."),
    max_weight: float = typer.Option(None, "--max-weight", help="Match weight below which."),
    pending: bool = typer.Option(False, "--pending", help="Undecided pairs only."),
    page: int = typer.Option(1, "--page", min=1),
    page_size: int = typer.Option(20, "--page-size", min=1, max=200),
    as_json: bool = _JSON,
) -> None:
    """List stored pairs, strongest first (ids and weights: no personal data)."""
    try:
        query = PairQuery(run_id=run, min_weight=min_weight, max_weight=max_weight, undecided=pending, page=page,
                          page_size=page_size)
        with session_scope() as session:
            found = review.list_pairs(session, cli_actor(), query)
    except ValidationError as exc:
        raise _fail(exc.errors()[0]["msg"]) from None
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    table = Table("pair", "run", "records", "weight", "probability", "against", "decision",
                  title=f"{found.total:,} pairs (page {found.page})")
    for p in found.items:
        table.add_row(str(p.id), str(p.run_id), f"{p.left_record} ↔ {p.right_record}", f"{p.match_weight:.2f}",
                      f"{p.match_probability:.4f}", ", ".join(p.against),
                      "merged" if p.merge_id else p.decision or "pending")
    Console().print(table)


@review_app.command("show")
def review_show(
    pair_id: int = typer.Argument(..., min=1),
    purpose: str = typer.Option(..., "--purpose", help="Why the records are read (logged)."),
    as_json: bool = _JSON,
) -> None:
    """Show a pair side by side, with its match weight explained per comparison."""
    try:
        with session_scope() as session:
            pair = review.get_pair(session, cli_actor(), pair_id, purpose)
    except _FAILURES as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(pair.model_dump_json(indent=2))
        return
    table = Table("field", f"record {pair.left.record_id}", f"record {pair.right.record_id}",
                  title=f"pair {pair.id}: weight {pair.match_weight:.2f}, probability {pair.match_probability:.4f}")
    for field in review.SIDE_FIELDS:
        mark = " ≠" if field in pair.differing else ""
        table.add_row(field + mark, pair.left.fields.get(field, ""), pair.right.fields.get(field, ""))
    Console().print(table)
    weights = Table("comparison", "level", "weight", title="match weight per comparison")
    weights.add_row("prior", "", f"{pair.prior_weight:+.2f}")
    for c in pair.comparisons:
        weights.add_row(c.comparison, c.level, f"{c.weight + c.tf:+.2f}")
    weights.add_row("total", "", f"{pair.match_weight:.2f}")
    Console().print(weights)


@review_app.command("decide")
def review_decide(
    pair_id: int = typer.Argument(..., min=1),
    decision: str = typer.Argument(..., help="match, non_match or unsure"),
    note: str = typer.Option("", "--note", help="A short note kept with the decision."),
) -> None:
    """Record a decision on a pair (stored with who and when, and logged)."""
    try:
        with session_scope() as session:
            made = review.decide(session, cli_actor(), pair_id, decision, note)
    except _FAILURES as exc:
        raise _fail(exc) from None
    typer.echo(f"pair {made.pair_id}: {made.decision} (decision {made.id} by {made.actor})")


@review_app.command("merge")
def review_merge(
    pair_id: int = typer.Argument(..., min=1),
    reason: str = typer.Option(..., "--reason", help="Why the two records are one person."),
    survivor: int = typer.Option(None, "--survivor", min=1, help="Person id that stays (default the older record)."),
) -> None:
    """Merge the two persons of a pair decided "match"; the retired record redirects to the survivor."""
    try:
        with session_scope() as session:
            merge_id = review.merge_pair(session, cli_actor(), pair_id, survivor, reason)
    except (*_FAILURES, RegistryError, PersonNotFound) as exc:
        raise _fail(exc) from None
    typer.echo(f"pair {pair_id}: merged (merge {merge_id})")


@review_app.command("undo-merge")
def review_undo(
    pair_id: int = typer.Argument(..., min=1),
    reason: str = typer.Option(..., "--reason", help="Why the merge is undone."),
) -> None:
    """Undo the merge of a pair: both records go back exactly as they were."""
    try:
        with session_scope() as session:
            merge_id = review.undo_pair_merge(session, cli_actor(), pair_id, reason)
    except (*_FAILURES, RegistryError) as exc:
        raise _fail(exc) from None
    typer.echo(f"pair {pair_id}: merge {merge_id} undone")


# ---- agency data sets ------------------------------------------------------------------------


@app.command("link")
def link(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="The agency's CSV or JSON Lines file."),
    kind: str = typer.Option(..., "--kind", help=f"One of {', '.join(agency.AGENCY_KINDS)}."),
    name: str = typer.Option("", "--name", help="A name for the data set (default the file name)."),
    maps: list[str] = typer.Option(None, "--map", help="agency_column=field, e.g. --map ho_ten=full_name (repeat)."),
    mapping_file: Path = typer.Option(None, "--mapping", exists=True, dir_okay=False, readable=True,
                                      help='JSON file {"agency column": "field"}; --map entries override it.'),
    purpose: str = typer.Option(..., "--purpose", help="Why the register is read (logged)."),
    threshold: float = _THRESHOLD,
    threads: int = _THREADS,
    encoding: str = _ENCODING,
    as_json: bool = _JSON,
    quiet: bool = _QUIET,
) -> None:
    """Link an agency data set to the register with a column mapping; store its links and conflicts."""
    options = _options(threshold=threshold, review_threshold=min(0.5, threshold), threads=threads)
    try:
        mapping = {**(agency.load_mapping(mapping_file) if mapping_file else {}), **agency.parse_mapping(maps or [])}
        with session_scope() as session, _steps(quiet or as_json) as steps:
            info = agency.link_dataset(session, cli_actor(), path=file, kind=kind, name=name, mapping=mapping,
                                       purpose=purpose, options=options, steps=steps, encoding=encoding)
    except _FAILURES as exc:
        raise _fail(exc) from None
    if as_json:
        typer.echo(info.model_dump_json(indent=2))
        _rejected(info.rejected)
        return
    _print(f"agency data set {info.id}: {info.name} ({info.kind})", [
        ("records", f"{info.records:,}"),
        (f"matched (p ≥ {info.threshold})", f"{info.matched:,}"),
        ("of which with conflicting fields", f"{info.conflicting:,}"),
        ("not found in the register", f"{info.unmatched:,}"),
        ("wall time", f"{info.seconds:.1f} s"),
    ])
    _rejected(info.rejected)


@app.command("datasets")
def datasets(as_json: bool = _JSON) -> None:
    """List linked agency data sets."""
    with session_scope() as session:
        found = agency.list_datasets(session, cli_actor())
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in found], indent=2, ensure_ascii=False))
        return
    table = Table("id", "kind", "name", "records", "matched", "conflicting", "unmatched", "linked")
    for d in found:
        table.add_row(str(d.id), d.kind, d.name, f"{d.records:,}", f"{d.matched:,}", f"{d.conflicting:,}",
                      f"{d.unmatched:,}", f"{d.linked_at:%Y-%m-%d %H:%M}")
    Console().print(table)


@app.command("reconcile")
def reconcile(
    dataset_id: int = typer.Argument(..., min=1),
    purpose: str = typer.Option(..., "--purpose", help="Why the data is read (logged)."),
    status: str = typer.Option(None, "--status", help=f"Only {', '.join(agency.STATUSES)} records."),
    csv_out: Path = typer.Option(None, "--csv", dir_okay=False, help="Write the whole report as CSV here."),
) -> None:
    """Reconciliation of an agency data set: matched, conflicting fields, not found."""
    try:
        with session_scope() as session:
            report = agency.reconcile(session, cli_actor(), dataset_id, purpose, status, page_size=None)
    except _FAILURES as exc:
        raise _fail(exc) from None
    if csv_out:
        csv_out.write_text(agency.reconciliation_csv(report), encoding="utf-8")
    d = report.dataset
    _print(f"reconciliation of {d.name} ({d.kind})", [
        ("records", f"{d.records:,}"),
        ("matched, no conflict", f"{d.matched - d.conflicting:,}"),
        ("matched with conflicting fields", f"{d.conflicting:,}"),
        ("not found", f"{d.unmatched:,}"),
        *([("CSV", str(csv_out))] if csv_out else []),
    ])
    conflicts = Table("record", "person", "field", "agency", "register", title="conflicting fields")
    for row in report.items:
        for field, (theirs, ours) in row.conflicts.items():
            conflicts.add_row(row.record_id, str(row.person_id), field, theirs, ours)
    if conflicts.row_count:
        Console().print(conflicts)

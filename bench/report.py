"""Rewrite the results section of docs/benchmarks.md from bench/out/*.json.

    python bench/report.py

Only the part between the ``results`` markers is generated; the rest of the
page (what each benchmark measures, how to read it) is written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import OUT

DOC = Path(__file__).parent.parent / "docs" / "benchmarks.md"
START, END = "<!-- results:start (bench/report.py) -->", "<!-- results:end -->"


def _load(prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(OUT.glob(f"{prefix}*.json"))]


def _header(result: dict) -> str:
    m = result["machine"]
    return (f"_{result.get('finished', '?')}, {m['cpus']} CPUs, Python {m['python']}; "
            f"command: `{result.get('command', '?')}`_")


def _generator(results: list[dict]) -> list[str]:
    lines = ["### Synthetic city generator", ""]
    for r in results:
        lines += [_header(r), "",
                  "| persons | generator persons/s | baseline: csv.writer, constant rows/s | generator / baseline "
                  "time (CPU) | with errors + ground truth, persons/s | CSV MB | peak RSS MB |",
                  "|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {r['people']:,} | {r['generator_persons_per_s']:,} | {r['baseline_rows_per_s']:,} "
                  f"| {r['generator_over_baseline']:.2f}x ({r['generator_over_baseline_cpu']:.2f}x) "
                  f"| {r['with_errors']['persons_per_s']:,} ({r['with_errors']['error_rate']:.0%} errors) "
                  f"| {r['csv_mb']} | {r['peak_rss_mb']} |", ""]
    return lines


def _import(results: list[dict]) -> list[str]:
    lines = ["### Bulk import on PostgreSQL (`dancu import` vs raw `COPY`)", ""]
    for r in results:
        counts = ", ".join(f"{v:,} {k}" for k, v in r["counts"].items())
        lines += [_header(r), "",
                  "| persons | file MB | raw COPY into a bare text table, s | `dancu import`, s | ratio "
                  "| import rows/s |",
                  "|---:|---:|---:|---:|---:|---:|",
                  f"| {r['people']:,} | {r['file_mb']} | {r['raw_copy_seconds']} | {r['import_seconds']} "
                  f"| **{r['ratio']}x** | {r['import_rows_per_second']:,} |", "",
                  f"Rows written: {counts}.", ""]
    return lines


def _sqlite_import(results: list[dict]) -> list[str]:
    lines = ["### Bulk import into SQLite at growing sizes (rate must stay flat)", ""]
    for r in results:
        first, last = r["runs"][0], r["runs"][-1]
        lines += [_header(r), "",
                  ("Foreign-key indexes of `person.spouse_id` and `household.head_person_id` dropped (the state "
                   "before migration 0012)." if r["without_fk_indexes"] else "Schema as migrated.")
                  + f" Load average at the end: {r['load_average_after']:.1f} on {r['machine']['cpus']} CPUs.", "",
                  "| persons | `dancu import` s (CPU s) | import rows/s (per CPU s) | baseline: bare executemany "
                  "into an unindexed table, rows/s (per CPU s) | import / baseline time (CPU) | CPU s per "
                  "batch (up to 20,000 rows), first / last tenth |",
                  "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {run['persons']:,} | {run['import_seconds']:,} ({run['import_cpu_seconds']:,}) "
                  f"| {run['import_rows_per_second']:,} ({run['import_cpu_rows_per_second']:,}) "
                  f"| {run['baseline_rows_per_second']:,} ({run['baseline_cpu_rows_per_second']:,}) "
                  f"| {run['import_over_baseline']}x ({run['import_over_baseline_cpu']}x) "
                  f"| {run['first_batches_cpu_s']} / {run['last_batches_cpu_s']} |" for run in r["runs"]]
        lines += ["", f"Import rate at {last['persons']:,} / at {first['persons']:,} persons: wall "
                      f"**{r['import_rate_last_over_first']}x**, CPU **{r['import_cpu_rate_last_over_first']}x** "
                      f"(baseline: wall {r['baseline_rate_last_over_first']}x, "
                      f"CPU {r['baseline_cpu_rate_last_over_first']}x).", ""]
    return lines


def _search(results: list[dict]) -> list[str]:
    lines = ["### Search on PostgreSQL (API vs the same SQL run directly)", ""]
    for r in results:
        lines += [_header(r), "",
                  f"{r['persons']:,} persons, {r['clients']} concurrent clients, {r['queries']} queries of each "
                  f"kind, {r['uvicorn_workers']} uvicorn workers.", "",
                  "| query | direct SQL p50 / p95 ms | direct SQL + audit write p50 / p95 ms | API p50 / p95 ms "
                  "| API / direct p50 | API / direct p95 | API / (SQL + audit write) p95 |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for kind, k in r["results"].items():
            label = {"id": "by PIN", "name": "by name, no diacritics"}.get(kind, kind)
            audited = k.get("direct_sql_with_audit_write")
            if audited:
                audited_latency = f"{audited['p50_ms']} / {audited['p95_ms']}"
                audited_ratio = f"{k['p95_ratio_vs_audited_sql']}x"
            else:
                audited_latency, audited_ratio = "not measured", "–"
            lines.append(f"| {label} | {k['direct_sql']['p50_ms']} / {k['direct_sql']['p95_ms']} "
                         f"| {audited_latency} | {k['api']['p50_ms']} / {k['api']['p95_ms']} | {k['p50_ratio']}x "
                         f"| **{k['p95_ratio']}x** | {audited_ratio} |")
        lines.append("")
    return lines


def _cards(results: list[dict]) -> list[str]:
    lines = ["### Offline identity-card verification on one core (vs a bare ECDSA verify)", ""]
    for r in results:
        lines += [_header(r), "",
                  f"{r['cards']} distinct cards, a status list of {r['revoked_in_status_list']:,} revoked cards "
                  f"({r['status_list_kb']:,} kB, loaded and verified once in {r['load_trust_ms']} ms), "
                  f"QR {r['qr_chars']} characters, chip data {r['chip_data_bytes']:,} bytes; pinned to CPU "
                  f"{r['core']}.", "",
                  "| baseline: `cryptography` ECDSA P-256 verify, /s | QR verifications /s | QR cost / baseline "
                  "| chip-data verifications /s | chip cost / baseline |",
                  "|---:|---:|---:|---:|---:|",
                  f"| {r['baseline_ecdsa_verify_per_s']:,} | {r['qr_verify_per_s']:,} "
                  f"| **{r['qr_cost_over_baseline']}x** | {r['chip_verify_per_s']:,} "
                  f"| **{r['chip_cost_over_baseline']}x** |", ""]
    return lines


def _oidc(results: list[dict]) -> list[str]:
    lines = ["### OpenID Connect provider: dancu vs django-oauth-toolkit (same PostgreSQL server, same run)", ""]
    for r in results:
        dancu, dot = r["best"]["dancu"], r["best"]["django-oauth-toolkit"]
        lines += [_header(r), "",
                  f"Both under uvicorn with {r['workers']} worker(s), {r['clients']} concurrent clients, best of "
                  f"{r['rounds']} alternating rounds; a flow is authorize (logged-in session, consent remembered) "
                  "+ code exchange with PKCE + userinfo.", "",
                  "| measurement | dancu | django-oauth-toolkit | dancu / DOT |", "|---|---:|---:|---:|",
                  f"| full flows /s | {dancu['flow']['flows_per_s']} | {dot['flow']['flows_per_s']} "
                  f"| **{r['flow_ratio']}x** |",
                  f"| full flow p50 / p95 ms | {dancu['flow']['p50_ms']} / {dancu['flow']['p95_ms']} "
                  f"| {dot['flow']['p50_ms']} / {dot['flow']['p95_ms']} | |",
                  f"| token exchanges /s | {dancu['token']['exchanges_per_s']} | {dot['token']['exchanges_per_s']} "
                  f"| **{r['token_ratio']}x** |",
                  f"| token exchange p50 / p95 ms | {dancu['token']['p50_ms']} / {dancu['token']['p95_ms']} "
                  f"| {dot['token']['p50_ms']} / {dot['token']['p95_ms']} | |", "",
                  "Every round (flows/s, exchanges/s), to show the noise of a shared machine: " + "; ".join(
                      f"{name} " + ", ".join(f"{f['flows_per_s']}/{t['exchanges_per_s']}"
                                             for f, t in zip(rounds["flow"], rounds["token"], strict=True))
                      for name, rounds in r["all_rounds"].items()) + ".", ""]
    return lines


def _linkage(results: list[dict]) -> list[str]:
    lines = ["### Deduplication (dancu's model vs untuned Splink vs recordlinkage)", ""]
    labels = {"dancu": "dancu (Splink, Vietnamese comparisons)", "splink_untuned": "Splink, untuned",
              "recordlinkage": "recordlinkage (ECM)"}
    for r in results:
        d = r["data"]
        lines += [_header(r), "",
                  f"{r['people']:,} persons, {d['rows']:,} records ({d['duplicates']:,} duplicate registrations, "
                  f"{d['duplicates'] / d['rows']:.1%}; {d['erroneous_rows']:,} rows with an injected error), "
                  f"{r['true_pairs']:,} true pairs; match probability ≥ {r['threshold']}; {r['threads']} threads.",
                  "", "| method | precision | recall | F1 | wall s | CPU s (this process) | time / Splink untuned "
                  "| load average at start |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        splink_seconds = r["results"].get("splink_untuned", {}).get("seconds")
        for name, k in r["results"].items():
            ratio = f"{k['seconds'] / splink_seconds:.2f}x" if splink_seconds else "–"
            lines.append(f"| {labels.get(name, name)} | {k['precision']:.4f} | {k['recall']:.4f} | **{k['f1']:.4f}** "
                         f"| {k['seconds']:,} | {k['cpu_seconds']:,} | {ratio} | {k['load_average_before']} |")
        lines.append("")
    return lines


def main() -> None:
    body = (_generator(_load("generator")) + _import(_load("import")) + _sqlite_import(_load("sqlite-import"))
            + _search(_load("search"))
            + _cards(_load("cards")) + _oidc(_load("oidc")) + _linkage(_load("linkage")))
    page = DOC.read_text()
    head, _, rest = page.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + START + "\n\n" + "\n".join(body) + "\n" + END + tail)
    print(f"updated {DOC}")


if __name__ == "__main__":
    main()

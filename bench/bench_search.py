"""Search latency at scale: the REST API against the same SQL run directly.

    python bench/bench_search.py --database-url postgresql://dancu:dancu@localhost/dancu_bench \
        --data-dir bench/out/data --people 1000000

The database must already hold the population (``dancu seed --people N``
with the same DANCU_DATA_DIR, or bench/bench_import.py). For every sampled
query the benchmark first runs the search service once in a rolled-back
transaction, capturing the SELECT statements it sends; the baseline then
replays exactly those statements on raw connections. Both phases run with the
same number of concurrent clients, in the same run, on the same data.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from common import summary_ms, write_result  # noqa: E402


def _configure(database_url: str, data_dir: Path) -> None:
    os.environ["DANCU_DATABASE_URL"] = database_url
    os.environ["DANCU_DATA_DIR"] = str(data_dir)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sample_queries(count: int, seed: int) -> tuple[list[str], list[str]]:
    from sqlalchemy import func, select

    from dancu.db import session_scope
    from dancu.registry.models import Person

    with session_scope() as session:
        max_id = session.scalar(select(func.max(Person.id)))
        rng = random.Random(seed)
        ids = rng.sample(range(1, max_id + 1), min(count * 2, max_id))
        rows = session.execute(select(Person.pin, Person.name_folded).where(Person.id.in_(ids))).all()
    rows = [r for r in rows if r.pin][:count]
    # People type names without diacritics most of the time: search the folded form.
    return [r.pin for r in rows], [r.name_folded for r in rows]


def _capture_statements(actor, kind: str, values: list[str]) -> list[list[tuple[str, dict]]]:
    """For each query, the SELECT statements the search service executes."""
    from sqlalchemy import event

    from dancu.db import get_engine, new_session
    from dancu.registry import services
    from dancu.registry.schemas import PersonQuery

    captured: list[list[tuple[str, dict]]] = []
    for value in values:
        statements: list[tuple[str, dict]] = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "audit_chain_head" not in statement:
                statements.append((statement, parameters))

        event.listen(get_engine(), "before_cursor_execute", listener)
        session = new_session()
        try:
            query = PersonQuery(pin=value) if kind == "id" else PersonQuery(text=value)
            services.search_persons(session, actor, query, "benchmark")
        finally:
            session.rollback()
            session.close()
            event.remove(get_engine(), "before_cursor_execute", listener)
        captured.append(statements)
    return captured


def _run_concurrently(clients: int, jobs: list, work) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def timed(job):
        start = time.perf_counter()
        work(local, job)
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(timed, jobs))
    return latencies


# The second baseline also writes what the API must write for every read: one
# access-log row, committed durably. It separates the cost of the audit write
# from the cost of the Python web stack.
AUDIT_INSERT = (
    "INSERT INTO access_log (at, actor, action, subject_type, subject_id, purpose, detail, entry_mac) "
    "VALUES (now(), 'bench', 'search_hit', 'person', '0', 'benchmark', '', repeat('0', 64))"
)


def _direct(clients: int, statement_sets: list[list[tuple[str, dict]]], with_audit: bool = False) -> list[float]:
    from dancu.db import get_engine

    engine = get_engine()

    def work(local, statements):
        if not hasattr(local, "conn"):
            local.conn = engine.raw_connection()
        cursor = local.conn.cursor()
        for statement, parameters in statements:
            cursor.execute(statement, parameters)
            cursor.fetchall()
        if with_audit:
            cursor.execute(AUDIT_INSERT)
            local.conn.commit()
        else:
            local.conn.rollback()

    return _run_concurrently(clients, statement_sets, work)


def _api(clients: int, port: int, token: str, kind: str, values: list[str]) -> list[float]:
    """The API through the standard library's keep-alive HTTP client.

    Client and server share the machine's cores, as the direct phase's DB-API
    cursors share them with PostgreSQL: a light client (http.client spends a
    fraction of httpx's CPU per request) leaves the cores to the server, as a
    cursor does.
    """
    headers = {"Authorization": f"Bearer {token}"}

    def work(local, value):
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        params = {"purpose": "benchmark", **({"pin": value} if kind == "id" else {"text": value})}
        local.connection.request("GET", f"/api/v1/persons?{urlencode(params)}", headers=headers)
        response = local.connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise AssertionError(f"HTTP {response.status} for {value!r}: {body[:200]!r}")
        if not json.loads(body)["items"]:
            raise AssertionError(f"no result for {value!r}")

    return _run_concurrently(clients, values, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).parent / "out" / "data")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--queries", type=int, default=400, help="queries of each kind")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--name", default="search", help="result file name in bench/out")
    parser.add_argument("--kinds", nargs="+", choices=("id", "name"), default=["id", "name"],
                        help="which lookups to measure")
    args = parser.parse_args()
    _configure(args.database_url, args.data_dir)

    from sqlalchemy import func, select

    from dancu.accounts.models import Role
    from dancu.accounts.services import AuthError, actor_by_username, authenticate, create_user, issue_token
    from dancu.db import session_scope
    from dancu.registry.models import Person

    with session_scope() as session:
        persons = session.scalar(select(func.count()).select_from(Person))
        try:
            actor = actor_by_username(session, "bench")
        except AuthError:
            create_user(session, "bench", "bench-password-1", Role.ADMIN)
        actor = authenticate(session, "bench", "bench-password-1")
        token = issue_token(session, actor)
    pins, names = _sample_queries(args.queries, args.seed)
    print(f"{persons} persons; {len(pins)} ID and {len(names)} name queries; {args.clients} clients", flush=True)

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "dancu.web.app:create_app", "--port", str(port),
         "--workers", str(args.workers), "--log-level", "warning", "--no-access-log"],
        env=os.environ.copy(),
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base_url}/api/v1/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        results = {}
        for kind, values in (("id", pins), ("name", names)):
            if kind not in args.kinds:
                continue
            statements = _capture_statements(actor, kind, values)
            _direct(args.clients, statements[:20])  # warm the buffer cache for both phases alike
            _api(args.clients, port, token, kind, values[:20])
            direct = summary_ms(_direct(args.clients, statements))
            api = summary_ms(_api(args.clients, port, token, kind, values))
            direct_audited = summary_ms(_direct(args.clients, statements, with_audit=True))
            results[kind] = {"direct_sql": direct, "api": api, "direct_sql_with_audit_write": direct_audited,
                             "p95_ratio": round(api["p95_ms"] / direct["p95_ms"], 2),
                             "p50_ratio": round(api["p50_ms"] / direct["p50_ms"], 2),
                             "p95_ratio_vs_audited_sql": round(api["p95_ms"] / direct_audited["p95_ms"], 2),
                             "example_sql": [s for s, _ in statements[0]]}
    finally:
        server.terminate()
        server.wait(timeout=30)

    path = write_result(args.name, {"persons": persons, "clients": args.clients, "queries": args.queries,
                                   "uvicorn_workers": args.workers, "results": results})
    print("| query | direct SQL p50 / p95 (ms) | + audit write p50 / p95 | API p50 / p95 (ms) | API/direct p95 |"
          " API/(SQL + audit write) p95 |")
    print("|---|---|---|---|---|---|")
    for kind, r in results.items():
        audited = r["direct_sql_with_audit_write"]
        print(f"| {kind} | {r['direct_sql']['p50_ms']} / {r['direct_sql']['p95_ms']} | "
              f"{audited['p50_ms']} / {audited['p95_ms']} | "
              f"{r['api']['p50_ms']} / {r['api']['p95_ms']} | {r['p95_ratio']}x | {r['p95_ratio_vs_audited_sql']}x |")
    print(f"written to {path}")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Every benchmark of the population database in one command, then
# docs/benchmarks.md rewritten from the results (bench/out/*.json).
#
#   ./bench/run.sh                      # generator, import and search at 1M persons
#   ./bench/run.sh import               # only some: generator, import, search, cards, oidc, linkage, sqlite-import
#   ./bench/run.sh sqlite-import        # import into SQLite at 10k, 100k and 1M persons (rate must stay flat)
#   BENCH_PEOPLE=10000000 BENCH_NAME_SUFFIX=-10m ./bench/run.sh import
#
# Environment:
#   BENCH_PEOPLE              persons (default 1000000)
#   BENCH_DATABASE_URL        PostgreSQL server to use; the benchmark database
#                             (name + "_bench") is DROPPED and recreated
#                             (default postgresql://dancu:dancu@localhost/dancu_bench,
#                             the role ./scripts/test.sh creates)
#   BENCH_NAME_SUFFIX         suffix of the result files, e.g. -10m
# Needs .venv with the bench extra (./scripts/test.sh installs it) and a running PostgreSQL.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

people=${BENCH_PEOPLE:-1000000}
url=${BENCH_DATABASE_URL:-postgresql://dancu:dancu@localhost/dancu_bench}
suffix=${BENCH_NAME_SUFFIX:-}
steps=("$@")
((${#steps[@]})) || steps=(generator import search)
py=.venv/bin/python

for step in "${steps[@]}"; do
    echo "=== $step ($people persons) ==="
    case $step in
        generator) $py bench/bench_generator.py --people "$people" --name "generator$suffix" ;;
        import) $py bench/bench_import.py --people "$people" --database-url "$url" --name "import$suffix" ;;
        search) $py bench/bench_search.py --database-url "$url" --name "search$suffix" ;;
        cards) $py bench/bench_cards.py --name "cards$suffix" ;;
        oidc) $py bench/bench_oidc.py --database-url "$url" --name "oidc$suffix" ;;
        linkage) $py bench/bench_linkage.py --people "$people" --name "linkage$suffix" ;;
        sqlite-import) $py bench/bench_import_sqlite.py --name "sqlite-import$suffix" ;;
        *) echo "unknown benchmark '$step' (generator, import, search, cards, oidc, linkage, sqlite-import)" >&2
           exit 2 ;;
    esac
done
$py bench/report.py

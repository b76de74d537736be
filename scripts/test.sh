#!/usr/bin/env bash
# The README's test command. On a fresh Debian machine with Python it installs
# everything the tests need (Debian packages, .venv, a local PostgreSQL role and
# database) and runs the whole suite twice: on SQLite, then on PostgreSQL.
#
#   ./scripts/test.sh                      # everything
#   ./scripts/test.sh -k audit -x          # extra arguments go to both pytest runs
#
# Environment:
#   DANCU_TEST_BACKENDS      "sqlite postgresql" (default) or just one of them
#   DANCU_TEST_DATABASE_URL  use this PostgreSQL instead of setting up the local cluster
#   DANCU_TEST_PG_PASSWORD   password of the local `dancu` role (default: dancu)
#   DANCU_TEST_PG_CLUSTER    local cluster to use/create, of the newest installed version (default: main)
#   DANCU_TEST_WORKERS       pytest-xdist workers (default: number of CPUs, max 4; 1 = no xdist)
#   DANCU_TEST_TIMEOUT       seconds allowed for each pytest run (default: 2100)
#   DANCU_CHROMIUM           browser used by the browser tests (default: /usr/bin/chromium)
#   DANCU_SKIP_APT=1         do not install Debian packages
#   DANCU_FORCE_INSTALL=1    re-run `pip install -e .[test,bench]` even if pyproject.toml is unchanged
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

export DEBIAN_FRONTEND=noninteractive
export LANG=${LANG:-C.UTF-8}
export PYTHONUNBUFFERED=1
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export DANCU_CHROMIUM=${DANCU_CHROMIUM:-/usr/bin/chromium}

backends=${DANCU_TEST_BACKENDS:-sqlite postgresql}
script_start=$SECONDS

# --- 1. system packages and Python environment -------------------------------
debs=()
for deb in "${DANCU_TEST_DEBS[@]}"; do
    # No local PostgreSQL needed when given a URL or when testing SQLite only.
    if [[ $deb == postgresql* && (-n ${DANCU_TEST_DATABASE_URL:-} || $backends != *postgresql*) ]]; then
        continue
    fi
    debs+=("$deb")
done
ensure_debs "${debs[@]}"
ensure_venv test,bench
[[ -x $DANCU_CHROMIUM ]] || log "warning: $DANCU_CHROMIUM not found; browser tests will fail or skip"

# --- 2. PostgreSQL: start the local cluster, create role and database ---------
pg_local_url() {
    local ver port status password cluster=${DANCU_TEST_PG_CLUSTER:-main}
    ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)
    [[ -n $ver ]] || die "PostgreSQL is not installed (nothing in /usr/lib/postgresql)"
    if [[ -z $(pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1 == v && $2 == c') ]]; then
        log "creating PostgreSQL $ver cluster '$cluster'"
        as_root pg_createcluster --locale=C.UTF-8 "$ver" "$cluster" >&2
    fi
    status=$(pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1 == v && $2 == c {print $4}')
    if [[ $status != online* ]]; then
        log "starting PostgreSQL $ver/$cluster"
        as_root pg_ctlcluster "$ver" "$cluster" start >&2 || true  # tolerate "already running"
    fi
    port=$(pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1 == v && $2 == c {print $3}')
    for _ in $(seq 1 30); do
        pg_isready -q -h localhost -p "$port" && break
        sleep 1
    done
    pg_isready -q -h localhost -p "$port" ||
        die "PostgreSQL $ver/$cluster does not accept connections on port $port (see /var/log/postgresql/)"

    password=${DANCU_TEST_PG_PASSWORD:-dancu}
    # Idempotent: creates the role and the database only if missing, always
    # (re)sets the password so that it matches DANCU_TEST_PG_PASSWORD.
    (cd / && as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres -v pw="$password") >&2 <<'SQL'
SELECT 'CREATE ROLE dancu' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dancu') \gexec
ALTER ROLE dancu WITH LOGIN SUPERUSER PASSWORD :'pw';
SELECT 'CREATE DATABASE dancu_test OWNER dancu ENCODING ''UTF8'' TEMPLATE template0'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'dancu_test') \gexec
SQL
    # The tests create their databases from template1: it must be UTF8.
    local encoding
    encoding=$(cd / && as_postgres psql -X -At -p "$port" -d postgres \
        -c "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template1'")
    [[ $encoding == UTF8 ]] || log "warning: template1 of PostgreSQL $ver/$cluster is $encoding, not UTF8;" \
        "Vietnamese text needs a UTF8 cluster (recreate it: pg_dropcluster $ver $cluster --stop;" \
        "pg_createcluster --locale=C.UTF-8 $ver $cluster)"
    printf 'postgresql://dancu:%s@localhost:%s/dancu_test\n' \
        "$(.venv/bin/python -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$password")" \
        "$port"
}

pg_url=
if [[ $backends == *postgresql* ]]; then
    if [[ -n ${DANCU_TEST_DATABASE_URL:-} ]]; then
        pg_url=$DANCU_TEST_DATABASE_URL
    else
        pg_url=$(pg_local_url)
    fi
fi

# --- 3. run the suite on each backend ----------------------------------------
workers=${DANCU_TEST_WORKERS:-$(nproc)}
((workers > 4)) && workers=4
xdist=()
((workers > 1)) && xdist=(-n "$workers")

run_timeout=${DANCU_TEST_TIMEOUT:-2100}
declare -A result duration
overall=0
for backend in $backends; do
    log "pytest on $backend${xdist[*]:+ (${xdist[*]})}"
    env_args=(-u DANCU_DATABASE_URL -u DANCU_DATA_DIR -u DANCU_KEY_FILE -u DANCU_TEST_DATABASE_URL)
    case $backend in
        sqlite) ;;
        postgresql) env_args+=("DANCU_TEST_DATABASE_URL=$pg_url") ;;
        *) die "unknown backend '$backend' in DANCU_TEST_BACKENDS" ;;
    esac
    start=$SECONDS
    rc=0
    # A hung test must fail the run, not eat the CI job's time budget.
    timeout --kill-after=30 "$run_timeout" \
        env "${env_args[@]}" .venv/bin/python -m pytest "${xdist[@]}" "$@" || rc=$?
    duration[$backend]=$((SECONDS - start))
    case $rc in
        0) result[$backend]=passed ;;
        5) result[$backend]="FAILED: no tests collected (pytest exit 5)" ;;
        124 | 137) result[$backend]="FAILED: timed out after ${run_timeout}s" ;;
        *) result[$backend]="FAILED (pytest exit $rc)" ;;
    esac
    ((rc != 0 && overall == 0)) && overall=$rc
done

# --- 4. summary ---------------------------------------------------------------
echo
echo "=== dancu test summary ==="
for backend in $backends; do
    printf '  %-11s %-45s %4ss\n' "$backend" "${result[$backend]}" "${duration[$backend]}"
done
printf '  %-11s %-45s %4ss\n' total "$( ((overall == 0)) && echo passed || echo FAILED)" "$((SECONDS - script_start))"
exit "$overall"

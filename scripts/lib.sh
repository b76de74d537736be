# shellcheck shell=bash
# Helpers shared by scripts/demo.sh, scripts/test.sh and .ci/run.
# Source it from the repository root; it defines functions and package lists only.

# Debian packages the application needs at run time. SQLite is built into
# Python, so the demo needs nothing beyond a Python that can make a venv.
# shellcheck disable=SC2034  # used by the scripts that source this file
DANCU_RUNTIME_DEBS=()

# Debian packages the test suite needs:
# - postgresql (+ contrib: unaccent and pg_trgm; on Debian 12 they ship inside
#   postgresql-15 and postgresql-contrib is a metapackage, elsewhere they do not)
# - chromium: browser tests drive Debian's chromium through Playwright
#   (never `playwright install`, which downloads at run time)
# - fonts with Vietnamese glyphs for pages and PDFs (Noto, DejaVu)
# - poppler-utils: pdfsig/pdftotext check signed PDF results
# - libnss3-tools: certutil builds the NSS database in which pdfsig trusts the dancu CA
# - default-jre-headless: Java for the local Spark session of the linkage tests (pyspark)
# shellcheck disable=SC2034
DANCU_TEST_DEBS=(
    postgresql
    postgresql-contrib
    chromium
    fonts-noto-core
    fonts-dejavu-core
    poppler-utils
    libnss3-tools
    default-jre-headless
)

log() { printf '\033[1m[dancu]\033[0m %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Run a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (install sudo or run as root)"
    fi
}

# Run a command as the postgres OS user (peer authentication on the local socket).
as_postgres() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

deb_installed() {
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# ensure_debs PKG...: install the Debian packages that are missing.
# `apt-get update` runs only when something is missing. Set DANCU_SKIP_APT=1
# to manage system packages yourself.
ensure_debs() {
    local missing=() pkg
    if [[ ${DANCU_SKIP_APT:-0} == 1 ]]; then
        return 0
    fi
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        log "not a Debian-like system: make sure these are installed: $*"
        return 0
    fi
    for pkg in "$@"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        # A UTF-8 locale in the environment makes the PostgreSQL cluster that
        # the postgresql package creates on install a UTF8 one.
        as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 apt-get -o DPkg::Lock::Timeout=600 update -q
        as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
            apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
    fi
}

# The Python used to create .venv: $PYTHON, else python3 (>= 3.11).
find_python() {
    local py=${PYTHON:-python3}
    command -v "$py" >/dev/null 2>&1 || {
        ensure_debs python3 python3-venv
        py=python3
    }
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$py is $("$py" --version 2>&1); dancu needs Python 3.11 or newer (set PYTHON=...)"
    # Debian's python3 cannot create a venv without python3-venv (ensurepip).
    if ! "$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        ensure_debs python3-venv
    fi
    printf '%s\n' "$py"
}

# ensure_venv [EXTRAS]: create .venv if missing and `pip install -e .[EXTRAS]`.
# The install is skipped when pyproject.toml has not changed since the last
# install of the same extras (DANCU_FORCE_INSTALL=1 forces it).
ensure_venv() {
    local extras=${1:-} spec=. stamp hash py
    [[ -n $extras ]] && spec=".[$extras]"
    if [[ ! -x .venv/bin/python ]]; then
        py=$(find_python)
        log "creating .venv with $py"
        "$py" -m venv .venv
    fi
    hash=$(sha256sum pyproject.toml | cut -d' ' -f1)
    stamp=".venv/.dancu-installed${extras:+-${extras//,/-}}"
    if [[ ${DANCU_FORCE_INSTALL:-0} != 1 && -f $stamp && $(<"$stamp") == "$hash" ]] &&
        .venv/bin/python -c 'import dancu' >/dev/null 2>&1; then
        return 0
    fi
    log "pip install -e '$spec'"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
    printf '%s\n' "$hash" >"$stamp"
}

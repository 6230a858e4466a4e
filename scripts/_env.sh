# Shared setup for scripts/test, scripts/demo (and any later script): sourced, not run.
#
# Gives a newcomer's machine what Switchboard needs, and nothing else:
# - Python >= 3.11 and a virtualenv in .venv with the project installed
#   (editable, with the dev tools); re-installed only when pyproject.toml changes;
# - redis-server and redis-cli (the tests and the demo start their own private
#   server on a free port; the machine's own Redis is never touched);
# - Debian's chromium for the console's browser tests (ensure_chromium).
# Missing system packages are installed with apt-get when running as root;
# otherwise the message says exactly what to install.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

_apt_updated=""
apt_install() {
    command -v apt-get >/dev/null 2>&1 || return 1
    [ "$(id -u)" -eq 0 ] || return 1
    say "installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$_apt_updated" ]; then
        apt-get update -qq >/dev/null || return 1
        _apt_updated=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_python() {
    find_python && return 0
    apt_install python3 python3-venv >&2 || true
    find_python || die "Python 3.11 or newer is needed. Install it (Debian/Ubuntu: sudo apt-get install python3 python3-venv) and run this again."
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        local python
        python="$(ensure_python)"
        say "creating .venv with $python"
        if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"
            apt_install python3-venv || die "cannot create a virtualenv: install the venv module (Debian/Ubuntu: sudo apt-get install python3-venv) and run this again."
            "$python" -m venv "$VENV" || die "cannot create a virtualenv in $VENV"
        fi
    fi
    local stamp="$VENV/.switchboard-installed" want
    want="$("$VENV/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(b"".join(open(f, "rb").read() for f in sys.argv[1:])).hexdigest())' "$ROOT/pyproject.toml" "$ROOT/constraints.txt")"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        say "installing Switchboard and its dev tools into .venv (pip install -e '.[dev]' -c constraints.txt)"
        # -qq: errors only (a machine-wide pip.conf can make pip warn once per package)
        "$VENV/bin/python" -m pip install --quiet --quiet --constraint "$ROOT/constraints.txt" --editable "$ROOT[dev]" \
            || die "pip install failed (see above)"
        echo "$want" >"$stamp"
    fi
}

# redis-cli (Debian's redis-tools, which redis-server depends on) joins the private Redis Cluster the
# cluster tests start (`redis-cli --cluster create`).
ensure_redis() {
    command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
    apt_install redis-server redis-tools || die "redis-server and redis-cli are not installed. Install them (Debian/Ubuntu: sudo apt-get install redis-server redis-tools; macOS: brew install redis) and run this again. Nothing will use your system Redis: a private server is started on a free port."
    command -v redis-server >/dev/null 2>&1 || die "redis-server is still not on PATH after installing it"
    command -v redis-cli >/dev/null 2>&1 || die "redis-cli is still not on PATH after installing redis-tools"
}

# promtool (Debian's `prometheus` package) checks and unit-tests config/prometheus. Returns 1
# when it is not there and cannot be installed: scripts/test then skips that step with a
# message, except in CI (CI=true), where a missing promtool fails the run.
ensure_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    apt_install prometheus >&2 || true
    command -v promtool >/dev/null 2>&1
}

# Debian's chromium for the console's browser tests (tests/browser), driven by Playwright from the
# venv: never a browser build downloaded by `playwright install`. In CI (CI=true) it must be there.
CHROMIUM="${SWITCHBOARD_CHROMIUM:-/usr/bin/chromium}"
ensure_chromium() {
    [ -x "$CHROMIUM" ] && return 0
    apt_install chromium chromium-driver || true
    [ -x "$CHROMIUM" ] && return 0
    if [ "${CI:-}" = "true" ]; then
        die "chromium is needed for the browser tests in CI: apt-get install chromium chromium-driver"
    fi
    say "chromium is not installed: the browser tests will be skipped (Debian/Ubuntu: sudo apt-get install chromium chromium-driver)"
}


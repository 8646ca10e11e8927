#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, and only those that are missing:
#   chromium              headless browser for the UI tests (Playwright drives /usr/bin/chromium)
#   fonts-noto-cjk        Chinese glyphs in screenshots and rendered charts
#   fonts-noto-color-emoji the status dots and icons (🔴 🟡 🟢 ⚠️) in pages and screenshots
#   postgresql            server binaries (initdb/pg_ctl under /usr/lib/postgresql/*/bin) for the
#                         throwaway cluster started by tests/conftest.py
#   default-jre-headless  only when there is no `java` at all
#   nodejs, npm           only when there is no `npm`: the OpenID Provider the sign-in tests start
# Runs `apt-get update` once, and only when something is missing. Quick and silent-ish when
# everything is there. Non-interactive (CI runs it with no stdin).
#
# Not root and no password-less sudo: prints what is missing and exits 0, so `make test` still runs
# (the tests that need a missing program are skipped with a reason). Set SYSTEM_DEPS_STRICT=1 to
# make that an error instead.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

have_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

missing=()
if ! pkg_installed chromium && ! [ -x /usr/bin/chromium ]; then
    missing+=(chromium)
fi
if ! pkg_installed fonts-noto-cjk; then
    missing+=(fonts-noto-cjk)
fi
if ! pkg_installed fonts-noto-color-emoji; then
    missing+=(fonts-noto-color-emoji)
fi
if ! have_initdb; then
    missing+=(postgresql)
fi
if ! command -v java >/dev/null 2>&1; then
    missing+=(default-jre-headless)
fi
if ! command -v npm >/dev/null 2>&1; then
    missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "system-deps: chromium, fonts-noto-cjk, fonts-noto-color-emoji, postgresql, java, npm: all present"
    exit 0
fi

echo "system-deps: missing: ${missing[*]}"

give_up() {
    echo "system-deps: $1; install them by hand: apt-get install ${missing[*]}" >&2
    if [ "${SYSTEM_DEPS_STRICT:-0}" = "1" ]; then
        exit 1
    fi
    echo "system-deps: continuing; tests that need them will be skipped" >&2
    exit 0
}

if ! command -v apt-get >/dev/null 2>&1; then
    give_up "no apt-get on this machine"
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n env DEBIAN_FRONTEND=noninteractive)
else
    give_up "not root and no password-less sudo"
fi

apt_opts=(-q -y -o Acquire::Retries=3 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

"${as_root[@]}" apt-get "${apt_opts[@]}" update
"${as_root[@]}" apt-get "${apt_opts[@]}" install --no-install-recommends "${missing[@]}" </dev/null

# Check the result rather than trusting the exit status alone.
still=()
for p in "${missing[@]}"; do
    case "$p" in
        postgresql) have_initdb || still+=("$p") ;;
        default-jre-headless) command -v java >/dev/null 2>&1 || still+=("$p") ;;
        *) pkg_installed "$p" || still+=("$p") ;;
    esac
done
if [ ${#still[@]} -ne 0 ]; then
    echo "system-deps: still missing after apt-get install: ${still[*]}" >&2
    exit 1
fi
echo "system-deps: installed ${missing[*]}"

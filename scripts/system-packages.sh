#!/bin/sh
# The system tools the tests run, installed from Debian packages when missing (`make test` runs
# this first, through `make system-packages`; so does CI, through .ci/run).
#
# Quick and silent when every tool is on PATH: only `command -v`, no apt-get. Otherwise, as
# root or with password-less sudo (`sudo -n`) on a machine with apt-get, it installs the
# packages; when it cannot (or apt-get fails), it prints one line naming what is missing. It
# never fails the build itself: the tests that need a missing tool are skipped (marker `needs`,
# tests/conftest.py), or fail when GOEX_REQUIRE_ALL=1 (as in CI), each naming the tool.
#
# INSTALL_SYSTEM_PACKAGES=no never installs (only the one line); `make test
# INSTALL_SYSTEM_PACKAGES=no` passes it through.
set -eu

# tool:package — a command the tests (or goex under test) run, and the Debian package with it.
TOOLS="bwrap:bubblewrap nsenter:util-linux setpriv:util-linux unshare:util-linux mkfs.btrfs:btrfs-progs btrfs:btrfs-progs git:git mount:mount umount:mount chromium:chromium"

missing() {
    tools="" packages=""
    for pair in $TOOLS; do
        tool=${pair%%:*} package=${pair#*:}
        command -v "$tool" >/dev/null 2>&1 && continue
        tools="$tools $tool"
        case " $packages " in *" $package "*) ;; *) packages="$packages $package" ;; esac
    done
    tools=${tools# } packages=${packages# }
}

missing
[ -z "$tools" ] && exit 0

if [ "${GOEX_REQUIRE_ALL:-}" = 1 ]; then
    outcome="fail (GOEX_REQUIRE_ALL=1)"
else
    outcome="be skipped"
fi
say() { echo "system-packages: missing $tools (Debian: $packages) $1; the tests that need them will $outcome"; }

if [ "${INSTALL_SYSTEM_PACKAGES:-yes}" = no ]; then
    say "and INSTALL_SYSTEM_PACKAGES=no"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "and no apt-get to install them with"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    as_root="sudo -n"
else
    say "and installing needs root or password-less sudo (sudo apt-get install $packages)"
    exit 0
fi

echo "system-packages: installing $packages (for $tools)"
log=$(mktemp)
# shellcheck disable=SC2086  # $as_root and $packages are word lists
if $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 &&
    $as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $packages >>"$log" 2>&1; then
    rm -f "$log"
    missing
    [ -z "$tools" ] && exit 0
    say "after apt-get install"
else
    say "because apt-get failed ($(tail -n 1 "$log"))"
    rm -f "$log"
fi

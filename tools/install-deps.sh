#!/bin/sh
# install-deps.sh — installs the Debian 12 packages Sluice needs to build, test and run.
# Idempotent and quick when everything is present (it asks dpkg first, apt-get only for what is
# missing). Needs root, or sudo.
set -eu

PKGS="build-essential pkg-config
libmicrohttpd-dev libuv1-dev libjansson-dev libinih-dev libxxhash-dev
libgnutls28-dev nettle-dev libcurl4-gnutls-dev zlib1g-dev
check python3 python3-pytest python3-requests curl
clang libclang-rt-14-dev clang-format"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

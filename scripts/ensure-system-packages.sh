#!/usr/bin/env bash
# Install the Debian packages `make run` and `make test` need, if any is missing:
# redis-server (both); for the tests, chromium (the page and the panel in a browser), wrk (`make
# test` runs a smoke run of `make bench`), postgresql (the tests start servers of their own) and
# curl (the README's curl session is run as written).
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [[ "${1:-}" == "--with-browser" ]]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
fi
if [[ "${1:-}" == "--with-bench" ]]; then
  command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "Installing with apt-get: ${missing[*]}"
SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

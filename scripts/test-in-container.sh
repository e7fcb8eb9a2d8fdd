#!/usr/bin/env bash
# `make test-in-container`: a fresh clone's `make test` inside a bare Debian 12 container (the
# python:3.11-slim-bookworm image plus git and make, as a newcomer's machine would have), so the
# README's commands are proven on a machine that has nothing else installed. Needs a Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
image="${TEST_IMAGE:-python:3.11-slim-bookworm}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet . "$work/pets"   # what is committed, as CI sees it
echo "make test in $image on a fresh clone of $(git rev-parse --short HEAD)"
started=$SECONDS
# Chromium needs more shared memory than Docker's default 64 MiB.
docker run --rm --shm-size=1g -v "$work/pets:/src:ro" "$image" bash -euo pipefail -c '
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git make >/dev/null
  git clone --quiet /src /work/pets
  cd /work/pets
  make test'
echo "make test in a bare container: passed in $((SECONDS - started))s"

#!/usr/bin/env bash
# Builds the peer of bench/peer.ts, aws-sigv4-proxy, at the pinned version, into .cache/peer/.
#   bash bench/build-peer.sh [OUT]     (OUT defaults to .cache/peer/aws-sigv4-proxy-$VERSION)
#
# Why from a checkout and not `go install github.com/awslabs/aws-sigv4-proxy@VERSION`: its go.mod
# names the module `aws-sigv4-proxy`, not its repository path, so the Go module proxy cannot serve
# it under that path (it answers 403 for every version). The repository vendors its dependencies,
# so the build itself needs no network. Where the checkout comes from, first that exists:
#   BENCH_PEER_SRC   a clone (normal or bare) that has the tag, or a source tree of that version
#   .cache/peer/src-$VERSION   left by an earlier run
#   a shallow clone of the tag from GitHub (where the machine can reach it)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v1.11.1
REPO_URL=https://github.com/awslabs/aws-sigv4-proxy
out=${1:-.cache/peer/aws-sigv4-proxy-$VERSION}
src=.cache/peer/src-$VERSION
mkdir -p .cache/peer

if [ ! -f "$src/go.mod" ]; then
  from=${BENCH_PEER_SRC:-}
  if [ -n "$from" ] && git -C "$from" rev-parse --verify -q "$VERSION^{commit}" >/dev/null; then
    mkdir -p "$src" && git -C "$from" archive "$VERSION" | tar -x -C "$src"
  elif [ -n "$from" ] && [ -f "$from/go.mod" ]; then
    cp -r "$from" "$src"
  elif timeout 60 git clone -q --depth 1 --branch "$VERSION" "$REPO_URL" "$src" 2>/dev/null; then
    :
  else
    echo "build-peer: no source for aws-sigv4-proxy $VERSION (set BENCH_PEER_SRC to a clone of $REPO_URL)" >&2
    exit 1
  fi
fi
grep -q '^module aws-sigv4-proxy$' "$src/go.mod" || { echo "build-peer: $src is not aws-sigv4-proxy" >&2; exit 1; }
# The Go build cache stays under .cache/ too (git-ignored); -trimpath keeps local paths out of the binary.
(cd "$src" && GOFLAGS=-mod=vendor GOCACHE="$PWD/../gocache" go build -trimpath -o "$(realpath -m "../$(basename "$out")")" ./cmd/aws-sigv4-proxy)
[ "$(realpath -m "$out")" = "$(realpath -m ".cache/peer/$(basename "$out")")" ] || mv ".cache/peer/$(basename "$out")" "$out"
echo "build-peer: built $out (aws-sigv4-proxy $VERSION)"

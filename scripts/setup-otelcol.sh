#!/usr/bin/env bash
# Builds the OpenTelemetry Collector the tracing tests export to (test/e2e/tracing.test.ts): the
# small distribution in test/otelcol (the OTLP receiver and the OTLP/HTTP exporter), from the
# collector's Go modules at the versions test/otelcol/go.sum pins, fetched through the Go module
# proxy like any Go dependency.
# Idempotent: the binary's name carries a hash of go.mod, go.sum and main.go, so a changed pin or
# source builds a new one and an unchanged one is kept. The first build takes a few minutes of CPU
# (2.5 min on 2 cores); Go's module and build caches make later ones quick.
#
#   scripts/setup-otelcol.sh    prints the binary's path on its last line
#   OTELCOL_DIR=.cache/otelcol  where it is built
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${OTELCOL_DIR:-.cache/otelcol}
# The machine's Go (1.26 here) is enough: test/otelcol/go.mod asks for no newer toolchain.
GO=$(command -v go || echo /usr/local/go/bin/go)
if [ ! -x "$GO" ]; then
  echo "setup-otelcol: the Go toolchain (go) is needed to build the test collector" >&2
  exit 1
fi
hash=$(cat test/otelcol/go.mod test/otelcol/go.sum test/otelcol/main.go | sha256sum | cut -c1-16)
binary="$DIR/otelcol-test-$hash"
if [ ! -x "$binary" ]; then
  mkdir -p "$DIR"
  echo "setup-otelcol: building the test collector (test/otelcol) into $binary" >&2
  # Written under a temporary name and renamed last: an interrupted build leaves no binary.
  (cd test/otelcol && "$GO" build -trimpath -o "../../$binary.partial" .)
  mv "$binary.partial" "$binary"
  # Older builds of other pins are of no further use.
  find "$DIR" -maxdepth 1 -name 'otelcol-test-*' ! -name "otelcol-test-$hash" -delete
fi
echo "$binary"

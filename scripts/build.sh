#!/usr/bin/env bash
# `npm run build`: the two single-file artifacts, in dist/.
#   dist/sagemaker-mlflow-proxy      standalone executable (bun build --compile), for install.sh
#   dist/sagemaker-mlflow-proxy.js   one JavaScript bundle that runs under Bun and Deno
# Both carry the git commit they were built from (`version` prints it).
# OUT_DIR and BUILD_COMMIT override the output folder and the commit (tests build an "upgrade").
set -euo pipefail
cd "$(dirname "$0")/.."

BUN=./node_modules/.bin/bun
out=${OUT_DIR:-dist}
commit=${BUILD_COMMIT:-}
if [ -z "$commit" ]; then
  commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit-dirty"; fi
fi
define=(--define "BUILD_COMMIT=\"$commit\"")
mkdir -p "$out"

# A compiled Bun executable loads .env and bunfig.toml from its working directory by default: a
# stray .env beside it could inject AWS keys or change the runtime (shared reference runtime-notes.md).
# Both are switched off; so are tsconfig.json and package.json, which default to off already.
# --bytecode: the bundle is compiled to JavaScriptCore bytecode at build time, so the executable
# skips parsing ~2 MB of JavaScript at every start: spawn to the first proxied 200 went from 111 to
# 57 ms (bench/peer.ts cold start, medians of 5). It used to break when the entry file had exports;
# src/main.ts has none, and the smoke suites run the executable built this way.
"$BUN" build src/main.ts --compile --bytecode --minify "${define[@]}" \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  --no-compile-autoload-tsconfig --no-compile-autoload-package-json \
  --outfile "$out/sagemaker-mlflow-proxy"

# --target=node: Node built-ins as imports, which Deno resolves; Bun runs it too.
"$BUN" build src/main.ts --target=node --minify "${define[@]}" --outfile "$out/sagemaker-mlflow-proxy.js"

echo "built $out/sagemaker-mlflow-proxy and $out/sagemaker-mlflow-proxy.js at commit $commit"

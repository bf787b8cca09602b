#!/usr/bin/env bash
# The Node 24 leg of the support matrix: a copy of the workspace on Node 24 with each framework's
# current major (scripts/matrix/current-majors.mjs: ai@7, @ai-sdk/amazon-bedrock@5, LangChain 1.x,
# Nest 12, Express 5 and 4, fastify), resolved fresh with no overrides, then the adapter and
# end-to-end suites (typecheck + test). The copy's vitest reports are left in <copy>/packages/*/ and
# <copy>/apps/* for scripts/ci-summary.mjs. Usage: node24.sh <copy-dir>; NODE24_PREFIX picks where
# Node 24 is installed (from the npm registry's `node` package).
set -uo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
copy="${1:?usage: node24.sh <copy-dir>}"
prefix="${NODE24_PREFIX:-$HOME/.cache/cycles-guard/node24}"

if [ ! -x "$prefix/node_modules/node/bin/node" ]; then
  echo "--- installing Node 24 (npm: node@24) into $prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund node@24 >/dev/null 2>&1 || { echo "could not install Node 24"; exit 1; }
fi
export PATH="$prefix/node_modules/node/bin:$PATH"
echo "--- node $(node --version)"

rm -rf "$copy" && mkdir -p "$copy"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$copy")
node "$repo/scripts/matrix/current-majors.mjs" "$copy"

cd "$copy" || exit 1
echo "--- pnpm install (current majors, no lockfile, no overrides)"
pnpm install --no-frozen-lockfile 2>&1 | tee install.log | tail -5
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
# A user on Node 24 must see no engine warning from what they install.
if grep -Ei 'unsupported engine|WARN.*engine' install.log; then echo "engine warnings on Node 24"; exit 1; fi
echo "--- resolved: $(node "$repo/scripts/matrix/resolved-versions.mjs" "$copy")"

echo "--- typecheck + test on Node 24"
pnpm exec turbo run typecheck test --force --continue --concurrency=2 --output-logs=errors-only \
  --filter='./packages/{ai-sdk,express,nestjs,langchain,bedrock,server}' --filter='./apps/*'

#!/usr/bin/env bash
# run.sh IDNODE - the GS1 Digital Link cross-check as ctest runs it: installs
# digital-link.js from npm (tests/gs1/package-lock.json, into
# tests/gs1/node_modules, ignored by git) when it is missing, then runs
# crosscheck.mjs over uris.txt. It fails, never skips, when node, npm or the
# package cannot be had: scripts/deps.sh installs node and npm.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
idnode=${1:?usage: run.sh IDNODE}
command -v node >/dev/null || { echo "node is missing (scripts/deps.sh installs it)" >&2; exit 1; }
if [ ! -f "$here/node_modules/digital-link.js/package.json" ]; then
	command -v npm >/dev/null || { echo "npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
	(cd "$here" && timeout 300 npm ci --no-audit --no-fund --silent)
fi
exec node "$here/crosscheck.mjs" "$idnode" "$here/uris.txt"

#!/usr/bin/env bash
# Installs what the browser test needs, if missing: Debian's chromium and
# playwright-core (npm, into tests/browser/node_modules). scripts/deps.sh
# installs chromium and npm too (scripts/test requires the browser test:
# IDN_BROWSER_REQUIRED=1); tests/system/test_http_browser.py runs this and,
# outside scripts/test, skips itself, saying why, when it fails (offline, no root).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -x /usr/bin/chromium ]; then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo -n"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
command -v npm >/dev/null || { echo "npm is missing (apt-get install npm)" >&2; exit 1; }
if [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
	(cd "$here/tests/browser" && npm install --no-audit --no-fund --silent)
fi

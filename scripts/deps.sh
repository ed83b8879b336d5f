#!/usr/bin/env bash
# Installs the Debian packages idnode needs to build and test, if missing.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config python3 clang libclang-rt-14-dev
      liblmdb-dev libpq-dev postgresql libssl-dev libjansson-dev libinih-dev libcmocka-dev libargon2-dev
      node-llhttp libqrencode-dev openssl
      libcairo2-dev libpango1.0-dev libpng-dev libarchive-dev fonts-dejavu-core fonts-wqy-microhei
      poppler-utils zbar-tools qrencode
      debhelper dpkg-dev lintian systemd # the Debian package (tests/package/test_deb.py)
      groff-base # the manual pages rendered without warnings (test_manpages.py)
      curl iproute2 # the deploy guide's commands and its network namespaces (test_deploy.py)
      prometheus) # the real Prometheus scraping /metrics (test_prometheus.py)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The browser test (tests/system/test_http_browser.py): Debian's chromium, and npm for
# playwright-core (Debian's, unless a nodejs that brings its own is installed).
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed" || missing+=(chromium)
# node and npm, for the GS1 cross-check (tests/gs1/run.sh installs its npm package)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
	echo "installing: ${missing[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

#!/usr/bin/env bash
# Installs what envmon needs on Debian/Ubuntu: the servers its tests and demo
# run (Mosquitto, InfluxDB 1.x, VictoriaMetrics), poppler for PDF checks,
# Chromium for the web console's browser tests (Playwright drives Debian's
# build; `playwright install` cannot download browsers here), and a
# virtualenv in .venv with envmon and its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
for pkg in mosquitto mosquitto-clients influxdb victoria-metrics poppler-utils python3-venv sqlite3 ca-certificates openssl chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${need_pkgs[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
# Debian starts packaged servers where it can; envmon's tests and demo run
# their own instances on free ports, and need none of these.
for svc in influxdb victoria-metrics; do
  if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
done

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# pip's chatter goes to a log, shown only when something fails.
log=.venv/pip-install.log
if ! { .venv/bin/python -m pip install -q --upgrade pip &&
       .venv/bin/python -m pip install -q -e '.[test]'; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-deps: pip install failed (log: $log)" >&2
  exit 1
fi

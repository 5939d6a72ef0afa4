#!/usr/bin/env bash
# envmon in one command: installs what is missing, starts a private Mosquitto
# and InfluxDB under ./demo-run/ (or $DEMO_DIR) on free ports, runs envmon against them and
# the example facility (config/facility.toml), publishes the simulator's
# "demo" scenario — a Grade A particle excursion in the aseptic suite next to a
# CO2 excursion of an incubator in the cell-processing room — shows alarms as
# they arrive, and ends with an excursion report (PDF and JSON) in demo-run/.
# The web console runs beside envmon; its address and a demo user are printed.
# Everything it starts is stopped on exit.
#
#   scripts/demo.sh                    # about 90 s
#   DEMO_SECONDS=120 scripts/demo.sh   # simulate longer
#   DEMO_SKIP_INSTALL=1 scripts/demo.sh  # skip scripts/install-deps.sh
#   DEMO_DIR=/tmp/envmon-demo scripts/demo.sh  # put servers, data and report there
#   DEMO_HOLD=1 scripts/demo.sh        # keep everything (and the console) running until Ctrl-C,
#                                      # the fleet publishing normal readings after the scenario
#
# Exit status: 0 when the report lists a cleanroom and an equipment excursion.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN=${DEMO_DIR:-$ROOT/demo-run}
# The directory is wiped on every run: never one the demo did not make.
if [ -d "$RUN" ] && [ -n "$(ls -A "$RUN")" ] && [ ! -f "$RUN/.envmon-demo" ]; then
  echo "demo: $RUN exists and is not a demo directory; refusing to wipe it" >&2
  exit 1
fi
mkdir -p "$RUN"
RUN=$(cd "$RUN" && pwd)
PIDS=$RUN/pids
DEMO_SECONDS=${DEMO_SECONDS:-90}

say() { printf '\033[1m[demo]\033[0m %s\n' "$*"; }

# --- 1. dependencies ------------------------------------------------------------
if [ "${DEMO_SKIP_INSTALL:-0}" != 1 ]; then
  say "installing dependencies (scripts/install-deps.sh)"
  bash scripts/install-deps.sh
fi
if [ -x "$ROOT/.venv/bin/envmon" ]; then
  BIN=$ROOT/.venv/bin
else
  BIN=$(dirname "$(command -v envmon)")
fi
ENVMON=$BIN/envmon
PY=$BIN/python
[ -x "$PY" ] || PY=$(command -v python3)
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
INFLUXD=$(command -v influxd || echo /usr/bin/influxd)

# --- 2. a clean demo-run/, without what a previous run left behind --------------
if [ -f "$PIDS" ]; then
  while read -r pid name; do
    # Only if the PID still runs what we started (PIDs get reused).
    if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"; then
      say "stopping $name (pid $pid) left from a previous run"
      kill "$pid" 2>/dev/null || true
    fi
  done < "$PIDS"
  sleep 1
fi
rm -rf "$RUN"
mkdir -p "$RUN/mosquitto" "$RUN/influxdb" "$RUN/state"
touch "$RUN/.envmon-demo"
: > "$PIDS"

started() {  # started PID NAME: remember a process to stop on exit
  echo "$1 $2" >> "$PIDS"
}

stop_all() {
  local status=$?
  trap - EXIT INT TERM
  if [ -f "$PIDS" ]; then
    # Newest first: envmon stops before the servers it writes to.
    tac "$PIDS" | while read -r pid name; do
      if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
    rm -f "$PIDS"
  fi
  say "stopped everything the demo started"
  exit "$status"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {  # wait_port PORT NAME PID
  for _ in $(seq 200); do
    if ! kill -0 "$3" 2>/dev/null; then
      say "$2 exited; its log:"; tail -n 20 "$RUN/$2.log"; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  say "$2 does not listen on port $1"; exit 1
}

MQTT_PORT=$(free_port)
INFLUX_PORT=$(free_port)
INFLUX_RPC_PORT=$(free_port)
while [ "$INFLUX_PORT" = "$MQTT_PORT" ] || [ "$INFLUX_RPC_PORT" = "$INFLUX_PORT" ] \
  || [ "$INFLUX_RPC_PORT" = "$MQTT_PORT" ]; do
  INFLUX_RPC_PORT=$(free_port)
done

# --- 3. Mosquitto and InfluxDB with project-local config and data ------------------
cat > "$RUN/mosquitto/mosquitto.conf" <<EOF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $RUN/mosquitto/
# envmon keeps a persistent session: readings queued while it is down must wait for it.
max_queued_messages 0
EOF
"$MOSQUITTO" -c "$RUN/mosquitto/mosquitto.conf" > "$RUN/mosquitto.log" 2>&1 &
started $! mosquitto
wait_port "$MQTT_PORT" mosquitto $!
say "Mosquitto on 127.0.0.1:$MQTT_PORT"

cat > "$RUN/influxdb/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"
[meta]
  dir = "$RUN/influxdb/meta"
[data]
  dir = "$RUN/influxdb/data"
  wal-dir = "$RUN/influxdb/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
EOF
"$INFLUXD" -config "$RUN/influxdb/influxdb.conf" > "$RUN/influxd.log" 2>&1 &
started $! influxd
wait_port "$INFLUX_PORT" influxd $!
"$PY" - "$INFLUX_PORT" <<'EOF'
import sys, time, urllib.parse, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(100):
    try:
        urllib.request.urlopen(f"{url}/ping", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
body = urllib.parse.urlencode({"q": 'CREATE DATABASE "envmon"'}).encode()
urllib.request.urlopen(f"{url}/query", data=body, timeout=10).read()
EOF
say "InfluxDB on 127.0.0.1:$INFLUX_PORT (database envmon)"

# --- 4. envmon ------------------------------------------------------------------------
cat > "$RUN/envmon.toml" <<EOF
# Written by scripts/demo.sh: the demo's own servers and state directory.
[mqtt]
host = "127.0.0.1"
port = $MQTT_PORT
client_id = "envmon-demo"
topics = ["fac/#"]
prefix = "fac"

[influx]
url = "http://127.0.0.1:$INFLUX_PORT"
api = "v1"
database = "envmon"

[storage]
state_dir = "$RUN/state"

[facility]
file = "$RUN/facility.toml"

[alarms]
stale_check_interval_s = 2

[log]
stats_interval_s = 5
EOF
# The example facility, with every sensor reporting each second as the simulator
# does here, so the report's expected samples and completeness are true; and
# the incubators' ten-minute delays (door openings) shortened to 10 s, so that
# the open incubator door is an excursion within the demo's minute.
sed -e '/^stale_after_s = /d' -e 's/^interval_s = .*/interval_s = 1\nstale_after_s = 20/' \
  -e 's/^delay_s = 600$/delay_s = 10/' \
  "$ROOT/config/facility.toml" > "$RUN/facility.toml"
"$ENVMON" check-config --config "$RUN/envmon.toml" > "$RUN/check-config.txt"
"$ENVMON" run --config "$RUN/envmon.toml" > "$RUN/envmon.log" 2>&1 &
ENVMON_PID=$!
started "$ENVMON_PID" envmon
sleep 3
if ! kill -0 "$ENVMON_PID" 2>/dev/null; then
  say "envmon run exited; its log:"; tail -n 30 "$RUN/envmon.log"; exit 1
fi
say "envmon running (pid $ENVMON_PID, log $RUN/envmon.log)"

# --- 4b. the web console, and the demo's user ----------------------------------------
# Every act in the console (and every `envmon ack`) is an electronic signature:
# a named user re-enters a password. The demo makes its user with a throwaway one.
DEMO_USER=demo-engineer
DEMO_PASSWORD="demo-$(date +%s)-signature"
printf '%s\n' "$DEMO_PASSWORD" | "$ENVMON" user add "$DEMO_USER" --role engineer \
  --full-name "Demo Engineer" --password-stdin --config "$RUN/envmon.toml" > /dev/null
CONSOLE_PORT=$(free_port)
ENVMON_CONSOLE__LISTEN="127.0.0.1:$CONSOLE_PORT" "$ENVMON" console --config "$RUN/envmon.toml" \
  > "$RUN/console.log" 2>&1 &
started $! console
wait_port "$CONSOLE_PORT" console $!
say "web console: http://127.0.0.1:$CONSOLE_PORT/  (user $DEMO_USER, password $DEMO_PASSWORD)"

# --- 5. alarms, live ----------------------------------------------------------------
cat > "$RUN/format_alarms.py" <<'EOF'
"""Prints each retained alarm message (mosquitto_sub -v lines) as one readable line.

An acknowledgement that closes a cleared alarm is two transitions (acked, then
closed) with the same alarm after both: the second message is not printed again.
"""
import json
import sys

last = {}
for line in sys.stdin:
    topic, _, payload = line.rstrip("\n").partition(" ")
    try:
        a = json.loads(payload)
    except ValueError:
        continue
    if last.get(topic) == payload:
        continue
    last[topic] = payload
    peak = a.get("peak")
    shown = f"{peak:.4g}" if isinstance(peak, (int, float)) else "-"
    where = a.get("room") + (f"/{a['equipment']}" if a.get("equipment") else "")
    rate = " (rate per min)" if a.get("rule") == "rate" else ""
    print(
        f"\033[1;31m[alarm]\033[0m {a.get('raised_at')}  {where} {a.get('parameter')} "
        f"{a.get('level')} -> {a.get('state')}: peak {shown}, limit {a.get('limit')}{rate} "
        f"(id {a.get('id')})",
        flush=True,
    )
EOF
mkfifo "$RUN/alarms.fifo"
"$PY" -u "$RUN/format_alarms.py" < "$RUN/alarms.fifo" &
started $! format_alarms
mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -q 1 -v -t 'fac/+/envmon/alarms/#' > "$RUN/alarms.fifo" &
started $! mosquitto_sub

# --- 6. the simulated fleet -------------------------------------------------------------
say "simulating the demo scenario for $DEMO_SECONDS s (a Grade A particle excursion after ~15 s,"
say "  and incubator INC-01's door left open from 5 s: its CO2 falls below 4.5 %)"
"$ENVMON" simulate --config "$RUN/envmon.toml" --scenario demo --interval 1 \
  --duration "$DEMO_SECONDS" 2> "$RUN/simulate.log" &
SIM_PID=$!
started "$SIM_PID" simulate
wait "$SIM_PID"
# Report exactly the window the simulator covered (it prints it, in exact epoch
# seconds): a window running on past its last reading would show an end-of-window
# data gap on every sensor.
read -r FROM TO < <(sed -n 's/^envmon simulate: window .*(epoch \([0-9.]*\) to \([0-9.]*\))$/\1 \2/p' \
  "$RUN/simulate.log")
if [ -z "${FROM:-}" ] || [ -z "${TO:-}" ]; then
  say "the simulator did not say which window it simulated; see $RUN/simulate.log"
  exit 1
fi
if [ "${DEMO_HOLD:-0}" = 1 ]; then
  # The plant stays alive for whoever looks at the console: without readings every
  # sensor would raise a communication-loss alarm within its stale_after (20 s).
  # The scenario ends about a second before its window does: readings from before
  # the window's end would be counted in the report (61 samples of 60 expected).
  "$PY" -c 'import sys, time; time.sleep(max(0.0, float(sys.argv[1]) - time.time()))' "$TO"
  "$ENVMON" simulate --config "$RUN/envmon.toml" --scenario normal --interval 1 \
    2> "$RUN/simulate-hold.log" &
  started $! simulate-hold
fi
sleep 3  # let envmon store the last readings (the window above does not depend on it)

# --- 7. the record ----------------------------------------------------------------------
ACK_ID=$("$ENVMON" alarms --json --config "$RUN/envmon.toml" | "$PY" -c \
  'import json, sys; print(next((a["id"] for a in json.load(sys.stdin) if a["level"] == "action"), ""))')
if [ -n "$ACK_ID" ]; then
  say "a facility engineer signs the acknowledgement of action alarm $ACK_ID (envmon ack)"
  printf '%s\n' "$DEMO_PASSWORD" | "$ENVMON" ack "$ACK_ID" --user "$DEMO_USER" \
    --comment "demo: burst investigated, line cleared" --password-stdin \
    --config "$RUN/envmon.toml" || true
  sleep 1
fi
say "alarms in the journal (envmon alarms --all):"
"$ENVMON" alarms --all --config "$RUN/envmon.toml" || true
"$ENVMON" report --config "$RUN/envmon.toml" --from "$FROM" --to "$TO" --batch DEMO-1 \
  --format pdf -o "$RUN/report.pdf"
"$ENVMON" report --config "$RUN/envmon.toml" --from "$FROM" --to "$TO" --batch DEMO-1 \
  --format json -o "$RUN/report.json"
read -r EXCURSIONS ON_EQUIPMENT < <("$PY" -c '
import json, sys
excursions = json.load(open(sys.argv[1]))["excursions"]
print(len(excursions), sum(1 for e in excursions if e["equipment"]))' "$RUN/report.json")
say "excursion report: $RUN/report.pdf and $RUN/report.json ($EXCURSIONS excursions, $ON_EQUIPMENT on equipment)"
say "logs and data: $RUN/"
if [ "$EXCURSIONS" -le "$ON_EQUIPMENT" ] || [ "$ON_EQUIPMENT" -lt 1 ]; then
  say "expected a cleanroom and an equipment excursion; see $RUN/envmon.log"
  exit 1
fi
if [ "${DEMO_HOLD:-0}" = 1 ]; then
  say "still running, the fleet publishing normal readings: web console http://127.0.0.1:$CONSOLE_PORT/ (user $DEMO_USER, password $DEMO_PASSWORD); Ctrl-C stops everything"
  while kill -0 "$ENVMON_PID" 2>/dev/null; do sleep 1; done
fi

#!/usr/bin/env bash
# Instructions redis-server executes per reserve → commit pair on a 3-level budget (callgrind: the same
# however loaded the machine is). Usage: packages/redis/bench/callgrind-pairs.sh <pairs>; run it with
# two counts (e.g. 300 and 900): the difference of the totals divided by the difference of the counts
# is the cost of one pair, without the connection and the function load. A second argument runs that
# many concurrent callers (default 1), whose operations go to Redis in groups. CALLGRIND_BOUND=<n> sets
# the tenant's reservation bound (see callgrind-pairs.mts).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
port=$((20000 + RANDOM % 10000))
# --hz 1: the server's timer work (serverCron) does not depend on how slowly valgrind runs.
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/out.%p" redis-server --port "$port" \
  --dir "$work" --appendonly yes --save '' --hz 1 --daemonize no >"$work/valgrind.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.3; done
run() { (cd "$root" && node --conditions=@cycles-guard/source --import tsx "$here/callgrind-pairs.mts" "$port" "$@"); }
run 0 # provisions the budget and loads the function library, uncounted
callgrind_control -i on "$server" >/dev/null
run "${1:-300}" "${2:-1}"
callgrind_control -i off "$server" >/dev/null
callgrind_control -d "$server" >/dev/null
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$server" || true
out=$(ls "$work"/out.*.1 | head -1)
# CALLGRIND_KEEP=<file>: keep the profile (callgrind_annotate --inclusive=yes <file>); kept first, since
# grep -m1 may end the pipe below early (SIGPIPE under pipefail ends the script).
if [ -n "${CALLGRIND_KEEP:-}" ]; then cp "$out" "$CALLGRIND_KEEP"; fi
callgrind_annotate "$out" | grep -m1 'PROGRAM TOTALS'
rm -rf "$work"

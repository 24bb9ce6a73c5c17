#!/usr/bin/env bash
# Every benchmark once, with its defaults, one after the other, with the load average before
# each (figures are only comparable within one run: see docs/benchmarks.md).
# Needs PostgreSQL and Kafka from `bash infra/scripts/up.sh` (bench_case_conference: neither, embedded).
set -uo pipefail
cd "$(dirname "$0")/.."
for b in bench_append bench_relay bench_consumer bench_latency bench_rebuild bench_territory_load bench_risk_sweep bench_risk_latency bench_gateway bench_case_conference; do
    echo "=== $b $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    .venv/bin/python "bench/$b.py" "$@"
done

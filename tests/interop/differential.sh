#!/usr/bin/env bash
# Differential check: the same client scripts against riffle and against the
# reference broker Tansu (memory storage), then a comparison of what the
# clients consumed, check by check.
#
#   tests/interop/differential.sh          (SKIP_INSTALL/SKIP_BUILD as for run.sh)
#
# Prints, per check: SAME (both brokers gave the clients the same records),
# DIFF (with counts and a few examples), or the broker where it failed.
# Exits 1 if riffle failed a check, or if a check passed on both brokers but
# the clients consumed different records.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/riffle" "$WORK/tansu"

echo "differential: riffle"
INTEROP_DUMP="$WORK/riffle" "$HERE/run.sh" >"$WORK/riffle.log" 2>&1
echo "  exit $? ($(grep -c '^PASS' "$WORK/riffle.log") passed, $(grep -c '^FAIL' "$WORK/riffle.log") failed)"
echo "differential: tansu"
SKIP_BUILD=1 BROKER_KIND=tansu INTEROP_DUMP="$WORK/tansu" "$HERE/run.sh" >"$WORK/tansu.log" 2>&1
echo "  exit $? ($(grep -c '^PASS' "$WORK/tansu.log") passed, $(grep -c '^FAIL' "$WORK/tansu.log") failed)"

python3 - "$WORK" <<'PY'
import collections, os, re, sys

work = sys.argv[1]


def outcomes(log):
    """(names that passed, text of each FAIL line) from a run.sh log."""
    passed, failed = set(), []
    for line in open(os.path.join(work, log), encoding="utf-8", errors="replace"):
        line = line.rstrip()
        if line.startswith("PASS "):
            passed.add(re.sub(r" \(\d+\.\ds\)$", "", line[5:]))
        elif line.startswith("FAIL "):
            failed.append(line[5:])
    return passed, failed


def consumed(broker):
    """'suite: check' -> set of consumed rows."""
    out = collections.defaultdict(set)
    d = os.path.join(work, broker)
    for f in sorted(os.listdir(d)):
        suite = f[:-4]
        for line in open(os.path.join(d, f), encoding="utf-8", errors="replace"):
            check, _, row = line.rstrip("\n").partition("\t")
            out[f"{suite}: {check}"].add(row)
    return out


res = {b: outcomes(f"{b}.log") for b in ("riffle", "tansu")}
data = {b: consumed(b) for b in ("riffle", "tansu")}
names = set(data["riffle"]) | set(data["tansu"]) | res["riffle"][0] | res["tansu"][0]


def status(b, name):
    if name in res[b][0]:
        return "PASS"
    return "FAIL" if any(f.startswith(name) for f in res[b][1]) else "-"


bad = 0
for key in sorted(names):
    r, t = status("riffle", key), status("tansu", key)
    if r == "FAIL":
        bad += 1
    if key not in data["riffle"] and key not in data["tansu"]:
        print(f"{'no data':8} riffle={r} tansu={t}  {key}")
        continue
    a, b = data["riffle"].get(key, set()), data["tansu"].get(key, set())
    if a == b:
        print(f"{'SAME':8} riffle={r} tansu={t}  {key} ({len(a)} records)")
        continue
    if r == "PASS" and t == "PASS":
        bad += 1
    only_r, only_t = sorted(a - b), sorted(b - a)
    print(f"{'DIFF':8} riffle={r} tansu={t}  {key}: riffle {len(a)}, tansu {len(b)}, "
          f"only riffle {len(only_r)}, only tansu {len(only_t)}")
    for row in only_r[:2]:
        print(f"           only riffle: {row[:120]}")
    for row in only_t[:2]:
        print(f"           only tansu:  {row[:120]}")
for b in ("riffle", "tansu"):
    for f in res[b][1]:
        if not any(f.startswith(n) for n in names):
            print(f"FAIL     {b} only: {f[:160]}")
            bad += b == "riffle"
print("differential: " + ("FAILED" if bad else "riffle passed everything; every check both passed consumed the same records"))
sys.exit(1 if bad else 0)
PY

#!/usr/bin/env bash
# kcat (librdkafka's CLI) against a Kafka-protocol broker.
# Usage: kcat_test.sh HOST:PORT — prints PASS/FAIL per check, exits 1 on any failure.
set -u
B=${1:-127.0.0.1:9092}
RUN=$(date +%s%N | tail -c 9)
FAILED=0
pass() { echo "PASS kcat: $1"; }
fail() { echo "FAIL kcat: $1"; FAILED=$((FAILED + 1)); }

T=kcat-$RUN
# Produce (auto-creates the topic through Metadata), 100 keyed lines.
if seq 1 100 | sed 's/.*/k&:v&/' | kcat -b "$B" -P -t "$T" -K: -z lz4 2>/tmp/kcat-p.$RUN; then pass "produce 100 keyed records (lz4)"; else fail "produce: $(cat /tmp/kcat-p.$RUN)"; fi

OUT=$(kcat -b "$B" -C -t "$T" -o beginning -e -f '%k=%s\n' 2>/dev/null)
# For differential.sh: what was consumed (see consumed.py for the format).
[ -n "${INTEROP_DUMP:-}" ] && echo "$OUT" | sed 's/^/consume from beginning\t/' >>"$INTEROP_DUMP/kcat.tsv"
if [ "$(echo "$OUT" | wc -l)" = 100 ] && echo "$OUT" | grep -qx 'k7=v7'; then pass "consume from beginning"; else fail "consume got: $(echo "$OUT" | head -3)"; fi

if kcat -b "$B" -L 2>/dev/null | grep -q "topic \"$T\" with 1 partitions"; then pass "metadata (-L)"; else fail "metadata (-L)"; fi
if kcat -b "$B" -L -J 2>/dev/null | grep -q '"controllerid"'; then pass "metadata as JSON (-L -J)"; else fail "metadata JSON"; fi

OUT=$(timeout 30 kcat -b "$B" -G "kcat-g-$RUN" -X auto.offset.reset=earliest -c 100 -f '%s\n' "$T" 2>/dev/null)
if [ "$(echo "$OUT" | wc -l)" = 100 ]; then pass "group consume (-G)"; else fail "group consume got $(echo "$OUT" | wc -l) lines"; fi

# The group committed its offsets: a restart of the group reads only new records.
sleep 1
echo "k101:v101" | kcat -b "$B" -P -t "$T" -K: 2>/dev/null
OUT=$(timeout 30 kcat -b "$B" -G "kcat-g-$RUN" -X auto.offset.reset=earliest -c 1 -f '%s\n' "$T" 2>/dev/null)
if [ "$OUT" = v101 ]; then pass "group resumes from committed offset"; else fail "group resume got '$OUT'"; fi

# Offsets: query by logical position.
OUT=$(kcat -b "$B" -Q -t "$T:0:-1" 2>/dev/null)
if echo "$OUT" | grep -q "offset 101"; then pass "offset query (-Q, latest)"; else fail "offset query: $OUT"; fi

rm -f /tmp/kcat-p.$RUN
[ "$FAILED" = 0 ] && echo "kcat: all passed" || echo "kcat: $FAILED failed"
exit $((FAILED > 0))

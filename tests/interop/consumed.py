"""What the interop client scripts consumed, for tests/interop/differential.sh.

When INTEROP_DUMP names a directory, each suite appends one line per consumed
record to INTEROP_DUMP/<suite>.tsv: the check's name, then the record's
partition, key, value and headers (Python reprs), tab-separated. Topic names
and offsets are left out: topics carry a random run id, and offsets may
legitimately differ between brokers (transaction markers take offsets).
Without INTEROP_DUMP nothing is written.
"""
import os

_check = [""]


def begin(name):
    """Names the check whose records follow."""
    _check[0] = name


def record(suite, rows):
    """Appends `(partition, key, value, headers)` rows for the current check."""
    d = os.environ.get("INTEROP_DUMP")
    if not d:
        return
    with open(os.path.join(d, f"{suite}.tsv"), "a", encoding="utf-8") as f:
        for r in rows:
            f.write(_check[0] + "\t" + "\t".join(repr(x) for x in r) + "\n")

"""Writes a varied set of pickles (every protocol, every opcode family) into a folder.

Used by tests/dis_parity.rs so that parity with pickletools is checked on more than the
committed fixtures. Standard library only; deterministic.
"""
import collections
import datetime
import decimal
import fractions
import os
import pickle
import random
import sys
import uuid

out = sys.argv[1]
rng = random.Random(7)


class Reduced:
    def __reduce__(self):
        return (collections.OrderedDict, ([("k", 1)],))


values = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63, -2**64, 2**1000, -2**2000],
    "floats": [0.0, -0.0, 0.1, 1e16, 1e-5, 1e300, 5e-324, float("inf"), float("-inf"), float("nan"), 1 / 3],
    "strs": ["", "a", "it's", 'say "hi"', "both ' \"", "\\", "\t\n\r\x00\x7f", "\x85\xa0\xad", "é中😀",
             "\ud800\udfff", "\u2028\ufeff", "x" * 300, "\\u1234 not an escape"],
    "bytes": [b"", bytes(range(256)), b"'", b'"', b"x" * 300, bytearray(b"\x00ab")],
    "containers": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], {}, set(), frozenset(), {1: "a", "b": [2]},
                   {(1, 2): {3}}, [[[[[]]]]]],
    "stdlib": [collections.OrderedDict(a=1, b=2), datetime.datetime(2024, 2, 29, 12, 30, 15, 123456),
               datetime.date(1999, 12, 31), datetime.timedelta(days=-1, seconds=5), decimal.Decimal("-1.50"),
               fractions.Fraction(3, 7), 3 + 4j, uuid.UUID(int=12345), range(1, 10, 2), slice(1, None, 2),
               collections.deque([1, 2]), collections.Counter("abca"), Reduced()],
    "shared": None,
    "random": [rng.random() * 10 ** rng.randint(-30, 30) for _ in range(50)]
              + [rng.getrandbits(rng.randint(1, 200)) - 2**100 for _ in range(50)],
}
shared = [1, 2, 3]
values["shared"] = [shared, shared, {"again": shared}]
recursive = [1]
recursive.append(recursive)
looped = {}
looped["self"] = looped

n = 0
for name, value in values.items():
    for proto in range(6):
        with open(os.path.join(out, "%s_p%d.pkl" % (name, proto)), "wb") as f:
            f.write(pickle.dumps(value, protocol=proto))
        n += 1
for proto in range(6):
    with open(os.path.join(out, "recursive_p%d.pkl" % proto), "wb") as f:
        f.write(pickle.dumps([recursive, looped], protocol=proto))
    # Several pickles in one file, each from its own pickler.
    with open(os.path.join(out, "three_p%d.pkl" % proto), "wb") as f:
        for v in (1, [2], {"three": 3}):
            pickle.dump(v, f, protocol=proto)
# One pickler, two dumps: the second pickle refers to the first one's memo.
with open(os.path.join(out, "shared_memo.pkl"), "wb") as f:
    p = pickle.Pickler(f, protocol=2)
    p.dump(shared)
    p.dump(shared)
# Big enough to cross several protocol-4 frames.
with open(os.path.join(out, "framed_p4.pkl"), "wb") as f:
    f.write(pickle.dumps([{"k%d" % i: i} for i in range(20000)], protocol=4))

"""Checks `pklinspect extract --to json` against CPython's own unpickling (stdlib only).

    json_check.py --batch DIR      # DIR holds N.pkl and N.json pairs; prints mismatches
    json_check.py --random DIR N   # writes N random plain pickles (protocols 0-5) to DIR

Each JSON document is compared with pickle.loads of the same file, value by value: the
$-tags (bytes, tuples, sets, big ints, non-finite floats, non-str-key dicts) are decoded,
and every {"$ref": path} must point at the very object (identity) met at that path first.
"""
import base64
import json
import math
import os
import pickle
import random
import struct
import sys


def key_step(k):
    if isinstance(k, str):
        return "[" + json.dumps(k, ensure_ascii=False) + "]"
    if isinstance(k, int) and not isinstance(k, bool):
        return "[%d]" % k
    return "[" + json.dumps(repr(k), ensure_ascii=False) + "]"


def same_float(a, b):
    return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))


class Mismatch(Exception):
    pass


def check(obj, js, path, seen):
    def fail(why):
        raise Mismatch("%s: %s (python %r, json %r)" % (path, why, obj, js))

    if isinstance(js, dict) and set(js) == {"$ref"}:
        target = seen.get(js["$ref"])
        if target is None or target is not obj:
            fail("$ref to a different object")
        return
    if isinstance(obj, (list, dict, tuple, set, frozenset)):
        seen.setdefault(path, obj)
    if obj is None or isinstance(obj, bool):
        if js is not obj:
            fail("differs")
    elif isinstance(obj, int):
        value = int(js["$int"]) if isinstance(js, dict) else js
        if isinstance(value, bool) or value != obj:
            fail("int differs")
    elif isinstance(obj, float):
        if isinstance(js, dict):
            value = float(js["$float"])
        else:
            value = float(js)
        if not same_float(obj, value):
            fail("float differs")
    elif isinstance(obj, str):
        if js != obj:
            fail("str differs")
    elif isinstance(obj, bytearray):
        if base64.b64decode(js["$bytearray"]) != obj:
            fail("bytearray differs")
    elif isinstance(obj, bytes):
        if base64.b64decode(js["$bytes"]) != obj:
            fail("bytes differs")
    elif isinstance(obj, complex):
        re, im = js["$complex"]
        if not (same_float(obj.real, float(re)) and same_float(obj.imag, float(im))):
            fail("complex differs")
    elif isinstance(obj, tuple):
        items = js["$tuple"]
        if len(items) != len(obj):
            fail("tuple length")
        for i, (o, j) in enumerate(zip(obj, items)):
            check(o, j, "%s[%d]" % (path, i), seen)
    elif isinstance(obj, list):
        if not isinstance(js, list) or len(js) != len(obj):
            fail("list differs")
        for i, (o, j) in enumerate(zip(obj, js)):
            check(o, j, "%s[%d]" % (path, i), seen)
    elif isinstance(obj, (set, frozenset)):
        tag = "$set" if isinstance(obj, set) else "$frozenset"
        items = js[tag]
        if len(items) != len(obj):
            fail("set size")
        # Elements are hashable plain values: compare as multisets of their JSON (an
        # element met before is a $ref: compare the object it names).
        resolved = [to_json(seen[x["$ref"]]) if isinstance(x, dict) and set(x) == {"$ref"} else x
                    for x in items]
        # Elements met here first may be referred to later: remember which object each is.
        for i, x in enumerate(resolved):
            for element in obj:
                if isinstance(element, tuple) and to_json(element) == x:
                    seen.setdefault("%s[%d]" % (path, i), element)
        ours = sorted(json.dumps(x, sort_keys=True) for x in resolved)
        theirs = sorted(json.dumps(to_json(x), sort_keys=True) for x in obj)
        if ours != theirs:
            fail("set elements differ")
    elif isinstance(obj, dict):
        if "$dict" in js and len(js) == 1:
            pairs = js["$dict"]
            if len(pairs) != len(obj):
                fail("dict size")
            for (k, v), (jk, jv) in zip(obj.items(), pairs):
                check(k, jk, path + key_step(k), seen)
                check(v, jv, path + key_step(k), seen)
        else:
            if list(js) != [k for k in obj]:
                fail("dict keys differ")
            for k, v in obj.items():
                check(v, js[k], path + key_step(k), seen)
    else:
        if not (isinstance(js, dict) and ("$object" in js or "$global" in js)):
            fail("object not tagged")


def to_json(x):
    """Our scheme for hashable plain values (set elements), for comparison."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return x if abs(x) <= 2 ** 53 else {"$int": str(x)}
    if isinstance(x, float):
        if math.isnan(x):
            return {"$float": "nan"}
        if math.isinf(x):
            return {"$float": "inf" if x > 0 else "-inf"}
        return x
    if isinstance(x, bytes):
        return {"$bytes": base64.b64encode(x).decode()}
    if isinstance(x, tuple):
        return {"$tuple": [to_json(i) for i in x]}
    if isinstance(x, frozenset):
        return {"$frozenset": sorted((to_json(i) for i in x), key=json.dumps)}
    if isinstance(x, complex):
        return {"$complex": [x.real, x.imag]}
    return repr(x)


def random_value(rng, depth=0):
    kinds = ["none", "bool", "int", "bigint", "float", "special", "str", "bytes", "bytearray", "complex"]
    if depth < 4:
        kinds += ["list", "tuple", "dict", "set", "frozenset", "intdict"] * 2
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-2 ** 40, 2 ** 40)
    if kind == "bigint":
        return rng.getrandbits(rng.randint(54, 300)) * rng.choice([1, -1])
    if kind == "float":
        return struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
    if kind == "special":
        return rng.choice([float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1e16])
    if kind == "str":
        return "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x2fff), rng.randint(0x10000, 0x10ffff)]))
                       for _ in range(rng.randint(0, 8)))
    if kind == "bytes":
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
    if kind == "bytearray":
        return bytearray(rng.getrandbits(8) for _ in range(rng.randint(0, 8)))
    if kind == "complex":
        return complex(rng.uniform(-10, 10), rng.uniform(-10, 10))
    n = rng.randint(0, 4)
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(n)]
    if kind == "tuple":
        return tuple(random_value(rng, depth + 1) for _ in range(n))
    if kind == "dict":
        return {"k%d_%s" % (i, rng.choice(["a", "$x", "é"])): random_value(rng, depth + 1) for i in range(n)}
    if kind == "intdict":
        return {rng.randint(-5, 5): random_value(rng, depth + 1) for _ in range(n)}
    hashable = lambda: rng.choice([rng.randint(-100, 100), "s%d" % rng.randint(0, 9), (1, "t"), b"b", None])
    if kind == "set":
        return {hashable() for _ in range(n)}
    return frozenset(hashable() for _ in range(n))


def main():
    if sys.argv[1] == "--random":
        out, count = sys.argv[2], int(sys.argv[3])
        rng = random.Random(20261123)
        for i in range(count):
            value = random_value(rng)
            if rng.random() < 0.3:  # shared and recursive references
                shared = [random_value(rng, 3)]
                value = [value, shared, {"again": shared}]
                if rng.random() < 0.5:
                    value.append(value)
            with open(os.path.join(out, "%d.pkl" % i), "wb") as f:
                f.write(pickle.dumps(value, protocol=i % 6))
        return
    folder = sys.argv[2]
    bad = 0
    names = sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".pkl"))
    for name in names:
        with open(os.path.join(folder, name + ".pkl"), "rb") as f:
            obj = pickle.load(f)
        with open(os.path.join(folder, name + ".json"), encoding="utf-8") as f:
            js = json.load(f)
        try:
            check(obj, js, "$", {})
        except (Mismatch, KeyError, TypeError, ValueError) as e:
            bad += 1
            print("%s: %s" % (name, e))
    print("checked %d, %d mismatches" % (len(names), bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

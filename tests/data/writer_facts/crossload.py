"""Loads fixtures written by one pandas/numpy generation with another, and records what
fails (tests/writer_facts.rs reads the result, crossload.json; docs/writer-facts.md quotes it).

Run once per environment and merge, from the repository root:

    for v in i17b-pd15 i17b-pd22 i17b-ci i17a-np1; do
        /work/venvs/$v/bin/python tests/data/writer_facts/crossload.py >> /tmp/crossload.jsonl
    done
    python3 tests/data/writer_facts/crossload.py --merge /tmp/crossload.jsonl \
        > tests/data/writer_facts/crossload.json
"""
import glob
import json
import pickle
import sys
import warnings

FILES = sorted(
    glob.glob("fixtures/pandas/frames/pd*_p[245].pkl")
    + glob.glob("fixtures/numpy1/*.pkl")
    + glob.glob("fixtures/numpy2/*.pkl")
)


def outcome(load):
    try:
        load()
        return "ok"
    except Exception as e:  # what a user sees: the exception type and its first line
        return f"{type(e).__name__}: {str(e).splitlines()[0][:160]}" if str(e) else type(e).__name__


def main():
    if sys.argv[1:2] == ["--merge"]:
        rows = [json.loads(line) for line in open(sys.argv[2])]
        json.dump(rows, sys.stdout, indent=1, sort_keys=True)
        print()
        return
    warnings.simplefilter("ignore")
    import numpy
    try:
        import pandas
        pandas_version = pandas.__version__
    except ImportError:
        pandas, pandas_version = None, None
    results = {}
    for f in FILES:
        if pandas is None and "/pandas/" in f:
            continue
        r = {"pickle.load": outcome(lambda: pickle.load(open(f, "rb")))}
        if pandas is not None and "/pandas/" in f:
            r["pandas.read_pickle"] = outcome(lambda: pandas.read_pickle(f))
        results[f] = r
    print(json.dumps({"numpy": numpy.__version__, "pandas": pandas_version, "python": sys.version.split()[0], "results": results}, sort_keys=True))


main()

#!/usr/bin/env bash
# extract --to parquet: a pickled 1 M-row mixed DataFrame (int64, float64, bool, object
# str, Int64, category, datetime64[ns], pandas 3 str) to Parquet, with time and peak memory,
# against pandas' own pd.read_pickle + DataFrame.to_parquet. Needs a Python with pandas and
# pyarrow (PKLINSPECT_TEST_PYTHON or the first argument).
#
#   scripts/bench_parquet.sh [PYTHON_WITH_PANDAS_AND_PYARROW]
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-${PKLINSPECT_TEST_PYTHON:-python3}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --quiet
bin=target/release/pklinspect
"$py" - "$work/frame.pkl" <<'PY'
import sys
import numpy as np
import pandas as pd
n = 1_000_000
rng = np.random.default_rng(0)
df = pd.DataFrame({
    "id": np.arange(n, dtype="int64"),
    "x": rng.standard_normal(n),
    "flag": rng.random(n) < 0.5,
    "name": pd.Series([f"user{i % 5000}" for i in range(n)], dtype="object"),
    "label": pd.Series([f"item{i % 977}" for i in range(n)]),
    "count": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 100, n)), dtype="Int64"),
    "kind": pd.Categorical(rng.choice(["a", "b", "c", "d"], n)),
    "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="s"),
})
df.to_pickle(sys.argv[1])
PY
ls -l "$work/frame.pkl" | awk '{print "input:", $5, "bytes"}'
echo "pklinspect extract --to parquet:"
python3 scripts/peak_memory.py "$bin" extract "$work/frame.pkl" --to parquet -q -o "$work/out.parquet"
echo "pandas: pd.read_pickle + to_parquet:"
python3 scripts/peak_memory.py "$py" -c "import pandas as pd, sys; pd.read_pickle(sys.argv[1]).to_parquet(sys.argv[2])" "$work/frame.pkl" "$work/pandas.parquet"
echo "pklinspect extract --to csv:"
python3 scripts/peak_memory.py "$bin" extract "$work/frame.pkl" --to csv -q -o "$work/out.csv"
echo "pandas: pd.read_pickle + to_csv:"
python3 scripts/peak_memory.py "$py" -c "import pandas as pd, sys; pd.read_pickle(sys.argv[1]).to_csv(sys.argv[2])" "$work/frame.pkl" "$work/pandas.csv"
cmp "$work/out.csv" "$work/pandas.csv" && echo "CSV outputs identical"
"$py" -c "import pandas as pd, sys; a = pd.read_parquet(sys.argv[1]); b = pd.read_parquet(sys.argv[2]); print('Parquet outputs read back equal:', a.equals(b))" "$work/out.parquet" "$work/pandas.parquet"

#!/usr/bin/env bash
# The wheel as a user gets it: `pip wheel .` builds it from this checkout (pip fetches
# maturin, the build backend, from PyPI), a fresh venv installs it, and the installed
# `pklinspect` runs on fixtures with the exit codes the README promises. No Rust is needed
# to install or run the wheel; building it needs cargo.
#
#   scripts/check_wheel.sh [OUT_DIR]    (default: target/ci-wheel)
#
# The build reuses the checkout's target/ (cargo's release profile), so a second run only
# relinks. Prints how long the build took.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/ci-wheel}"
rm -rf "$out/dist" "$out/venv" "$out/build-venv"
mkdir -p "$out/dist"
python3 -m venv "$out/build-venv"
start=$(date +%s)
"$out/build-venv/bin/pip" wheel --quiet --disable-pip-version-check --no-deps -w "$out/dist" .
echo "wheel built in $(( $(date +%s) - start )) s: $(ls "$out"/dist)"
python3 -m venv "$out/venv"
"$out/venv/bin/pip" install --quiet --disable-pip-version-check --no-index "$out"/dist/pklinspect-*.whl
bin="$out/venv/bin/pklinspect"
test -x "$bin" || { echo "the wheel put no pklinspect in $out/venv/bin" >&2; exit 1; }
"$bin" --version
# The main job on a bundled file, and the exit codes of lint: 0 clean, 1 a finding.
"$bin" explain fixtures/keras/np2_timeseries_generator_p4.pkl | grep -q "needs-libraries"
"$bin" lint --no-config fixtures/numpy2/float64_2d_p4.pkl >/dev/null
set +e
"$bin" lint --no-config fixtures/hostile/os_system_p4.pkl >/dev/null
code=$?
set -e
test "$code" -eq 1 || { echo "lint of a hostile file exited $code, not 1" >&2; exit 1; }
echo "wheel OK: $bin"

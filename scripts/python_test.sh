#!/usr/bin/env bash
# The Python package's tests (part of `make test`): a virtualenv in target/pyenv with
# python/requirements-test.txt (numpy, jsonschema, pandas, maturin; no PyTorch), the extension
# built into it by `maturin develop` (the dev profile, sharing target/ with cargo test), then
# python/tests with unittest.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$PWD/target/pyenv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r python/requirements-test.txt
log="$PWD/target/python-build.log"
if ! VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop >"$log" 2>&1; then
  tail -40 "$log"
  echo "python_test: building the extension failed (whole log: $log)" >&2
  exit 1
fi
cd python
PATH="$venv/bin:$PATH" "$venv/bin/python" -m unittest discover -s tests -v

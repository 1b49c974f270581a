#!/usr/bin/env bash
# `make test`: every step runs even when an earlier one fails, so one run shows
# everything that is broken; the last line is the summary `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg"
export PY_COLORS=0 ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1

if ! scripts/setup.sh; then
  echo "test: setup failed; nothing else can run"
  echo "steps: 0 passed, 1 failed"
  exit 1
fi

mkdir -p tests/output
passed=0; failed=0; results=()
step() {
  local name=$1; shift
  local start=$SECONDS
  echo
  echo "=== step: $name ==="
  if "$@"; then
    passed=$((passed + 1)); results+=("PASS  $name ($((SECONDS - start)) s)")
  else
    failed=$((failed + 1)); results+=("FAIL  $name ($((SECONDS - start)) s)")
  fi
}

step "yamllint" yamllint -s .
step "ansible-lint (production profile)" ansible-lint
# Own temporary directories: pytest prunes old numbered ones under /tmp,
# including those of another pytest running at the same time.
step "unit tests" pytest --basetemp="$PWD/tests/output/pytest-unit" tests/unit
step "placement benchmark" python bench/placement.py --quick
step "integration tests" pytest --basetemp="$PWD/tests/output/pytest-integration" \
  -m integration -o testpaths=tests/integration tests/integration
for s in $(ls -d molecule/*/molecule.yml 2>/dev/null | cut -d/ -f2); do
  step "molecule $s" molecule test -s "$s"
done

echo
echo "=== summary ==="
printf '%s\n' "${results[@]}"
echo "steps: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

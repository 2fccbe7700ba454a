# Two commands do all the set-up: `make run` and `make test`. Both create .venv when it is missing.
# The first interpreter that runs and is 3.11 or newer. Its errors are silenced too: a pyenv shim exists
# for every version pyenv knows and complains when that version is not selected.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench init clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "parcelguard needs Python 3.11 or newer" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

init: $(STAMP)
	$(BIN)/parcelguard init --demo

# The whole chain for the demo: the carrier platform (:8000), the regulator's platform (:8001), the
# uploader between them and the industry blacklist (:8002) the carrier platform asks at hiring, each its
# own process (in production they run apart).
run: init
	$(BIN)/parcelguard run-all

test: $(STAMP)
	$(BIN)/python -m pytest

# The benchmarks also need the `bench` extra (pymerkle, to compare the audit log with).
$(VENV)/.installed-bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis

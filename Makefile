# Leadership cockpit — build and test entry points.
#
#   make run     install (once), prepare the sample city (once), serve the cockpit on :8501
#   make test    install (once), system packages (once), sample (once), the whole test suite
#   make lint    ruff check + ruff format --check
#
# Works on a fresh machine with only python3 (3.11+) and make. Every step is skipped when it is
# already done: the virtualenv is rebuilt only when requirements.lock or pyproject.toml changes
# (stamp .venv/.installed), the sample only when data/.sample-stamp is missing.

PYTHON       ?= python3
VENV         := .venv
PY           := $(VENV)/bin/python
VENV_STAMP   := $(VENV)/.installed
SAMPLE_STAMP := data/.sample-stamp
PORT         ?= 8501
PYTEST_ARGS  ?=
BENCH_ARGS   ?=
EVAL_ARGS    ?=
PIP_QUIET    ?= -q

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1
export DEBIAN_FRONTEND := noninteractive

.DEFAULT_GOAL := venv
.PHONY: help venv system sample run test lint format bench bench-pages bench-scale eval lock clean clean-data distclean

help:
	@echo "make venv | system | sample | run [PORT=8501] | test [PYTEST_ARGS=...] | lint | format | bench | eval | lock | clean | clean-data | distclean"

# ---------------------------------------------------------------- the virtualenv

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
	  { echo "error: $(PYTHON) is $$($(PYTHON) --version 2>&1); Python 3.11 or newer is needed" >&2; exit 1; }
	@if ! $(PY) -m pip --version >/dev/null 2>&1; then \
	  rm -rf $(VENV); \
	  echo "creating $(VENV) with $$($(PYTHON) --version)"; \
	  if ! $(PYTHON) -m venv $(VENV); then \
	    rm -rf $(VENV); \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "python3 -m venv failed: installing Debian's python3-venv"; \
	      apt-get -q -y update && apt-get -q -y install --no-install-recommends python3-venv </dev/null && \
	      $(PYTHON) -m venv $(VENV) || exit 1; \
	    else \
	      echo "error: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; \
	    fi; \
	  fi; \
	fi
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip
	$(PY) -m pip install $(PIP_QUIET) -r requirements.lock
	$(PY) -m pip install $(PIP_QUIET) --no-deps -e .
	@touch $@

# Re-pin requirements.lock from pyproject.toml (direct pins + the test extra) in a scratch venv.
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	$(PYTHON) -m venv "$$tmp/v" && \
	"$$tmp/v/bin/python" -m pip install $(PIP_QUIET) --upgrade pip && \
	"$$tmp/v/bin/python" -m pip install $(PIP_QUIET) -e '.[test]' && \
	{ echo "# Full pinned set: the project's dependencies with the 'test' extra and every transitive package."; \
	  echo "# Made with: python3.11 -m venv v && v/bin/pip install -e '.[test]' && v/bin/pip freeze --exclude-editable"; \
	  echo "# Regenerate with 'make lock' after changing pyproject.toml."; \
	  "$$tmp/v/bin/python" -m pip freeze --exclude-editable; } > requirements.lock.new && \
	mv requirements.lock.new requirements.lock && echo "requirements.lock: $$(grep -vc '^#' requirements.lock) packages"

# ---------------------------------------------------------------- system packages

# chromium, fonts-noto-cjk, postgresql, a JRE if there is no java: installs only what is missing.
system:
	@bash scripts/system-deps.sh

# ---------------------------------------------------------------- the sample city

sample: $(SAMPLE_STAMP)

$(SAMPLE_STAMP): | $(VENV_STAMP)
	$(PY) -m sample.generate

# ---------------------------------------------------------------- run, test, lint

run: $(VENV_STAMP) $(SAMPLE_STAMP)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true

test: $(VENV_STAMP) system $(SAMPLE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV_STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(VENV_STAMP) bench-pages
	$(PY) -m bench.run --write-doc $(BENCH_ARGS)

# Server time of every page on the sample city (AppTest); writes its section of docs/benchmarks.md.
bench-pages: $(VENV_STAMP) $(SAMPLE_STAMP)
	$(PY) -m bench.pages --write-doc

# Spark local[2] against DuckDB on 100 million service records partitioned by month (Java 17+);
# writes the generated part of docs/scale.md. A smaller run: make bench-scale BENCH_ARGS="--rows 20000000".
bench-scale: $(VENV_STAMP)
	$(PY) -m bench.scale --write-doc $(BENCH_ARGS)

# The anomaly detectors on a labelled benchmark and on statsmodels' real data sets; writes docs/models.md.
# PyOD is optional (an `eval` extra): without it, its row is skipped.
eval: $(VENV_STAMP)
	$(PY) -m pip install $(PIP_QUIET) 'pyod==3.6.7' || echo 'pyod not installed: its row is skipped'
	$(PY) -m eval.run --write-doc $(EVAL_ARGS)

# ---------------------------------------------------------------- cleaning

# Build products and caches, and the virtualenv. Keeps data/ (the sample city) and .cockpit/ (state).
clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis bench/out
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# The generated sample city and the cockpit's local state.
clean-data:
	rm -rf data .cockpit

distclean: clean clean-data

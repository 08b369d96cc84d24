# deepscope: two commands on a fresh machine.
#   make demo   creates .venv, installs, runs the default study, prints where the report is
#   make test   creates .venv, installs, runs the test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench tables chromium clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned, so pip never pulls the multi-GB CUDA wheels; then the package.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -c bench/constraints.txt -e ".[test,hf,fast,ray]"
	touch $(STAMP)

# Ctrl-C stops the run with exit code 130 (make reports the failure) and prints the
# command that resumes it.
demo: $(STAMP)
	$(VENV)/bin/deepscope run info-plane

# Debian's chromium for the report's browser test; never a downloaded browser.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = "0" ]; then \
			(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
			|| echo "warning: could not install chromium; browser tests will be skipped"; \
		else echo "warning: /usr/bin/chromium missing; browser tests will be skipped"; fi; \
	fi

test: $(STAMP) chromium
	$(PY) -m pytest -q

test-all: $(STAMP) chromium
	$(PY) -m pytest -q -m "slow or not slow"

# Every benchmark, side by side with the peer tools (installed here only, torch pinned).
# BENCH_FLAGS=--quick gives a short run of the scripts that have one.
BENCH_FLAGS ?=
bench: $(STAMP)
	$(PIP) install --quiet -c bench/constraints.txt -e ".[bench]"
	$(PY) bench/info_plane.py
	for f in regions spectra curvature landscape gradients gradient_snr representations; do \
		echo "== bench/$$f.py"; $(PY) bench/$$f.py $(BENCH_FLAGS) || exit 1; done
	$(PY) bench/startup.py
	$(PY) bench/threads.py
	$(PY) bench/study_times.py
	$(PY) bench/real_models.py --ww
	$(PY) bench/tables.py

# Regenerate BENCHMARKS.md's tables from bench/results/*.json (no measuring).
tables:
	$(PY) bench/tables.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache

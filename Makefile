# REACTION — `make help` lists the targets.
PYTHON ?= python3.11
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help install demo zoo test test-fast lint format bench bench-analyze bench-preprocess bench-afe clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv: torch first (override with TORCH=...), then the project with [dev]

demo: $(STAMP)  ## train LR, DNN, DCNv2, REACTION (paper) and REACTION's product tower on the synthetic data and print the comparison table
	$(BIN)/reaction-train --multirun experiment=demo model=lr,dnn,dcnv2,reaction,reaction_product hydra.sweep.dir=outputs/demo
	$(BIN)/reaction-report outputs/demo

zoo: $(STAMP)  ## every model x 3 seeds on the synthetic data -> outputs/zoo/report/ (hours on CPU)
	$(BIN)/reaction-train --multirun experiment=zoo hydra.sweep.dir=outputs/zoo
	$(BIN)/reaction-report outputs/zoo

test: $(STAMP)  ## the full suite, as CI runs it
	$(BIN)/pytest

test-fast: $(STAMP)  ## skip the slow quality tests
	$(BIN)/pytest -m "not slow"

lint: $(STAMP)  ## ruff check + format check
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

bench: $(STAMP)  ## cost benchmarks (latency, throughput, streaming rows/s)
	$(BIN)/reaction-bench

bench-analyze: $(STAMP)  ## feature report at 1M and 10M rows: rows/s and peak RSS (minutes, ~3 GB disk)
	$(BIN)/python benchmarks/analyze_scale.py --workdir outputs/bench_analyze

bench-afe: $(STAMP)  ## AFE selection time on 400k and 1M Criteo-schema rows
	$(BIN)/python benchmarks/afe_scale.py --workdir outputs/bench_afe

# the data path before the prep-speed rewrite (issue 18 item 1), measured alongside by bench-preprocess
BASELINE_REF ?= a206dba

bench-preprocess: $(STAMP)  ## 1M and 10M Criteo-format rows: ingest/encode/loader rows/s, CPU, peak RSS, before vs now; a 10-file folder with 1/2/4 processes (tens of minutes, ~12 GB disk)
	$(BIN)/python benchmarks/preprocess_scale.py --workdir outputs/bench_preprocess --baseline-ref $(BASELINE_REF) --files 10

clean:  ## remove the venv, caches and run outputs
	rm -rf $(VENV) outputs multirun data/cache .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

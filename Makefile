# salesanalysis: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
PERIOD ?=
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help setup report test test-fast test-random lab lint format bench sample clean

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed, found " + sys.version.split()[0]'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the project with its test tools

report: $(STAMP)  ## the monthly report on the sample data (PERIOD=YYYY-MM, default: latest complete month)
	$(BIN)/salesanalysis run $(if $(PERIOD),--period $(PERIOD)) $(ARGS)

XDIST  ?= -n auto --dist loadscope

test: $(STAMP)  ## the whole test suite (unit, property-based, notebooks, end to end), on every core
	$(BIN)/python -m pytest $(XDIST) $(ARGS)

test-random: $(STAMP)  ## the property tests with a randomised search and more examples (local use)
	HYPOTHESIS_PROFILE=random $(BIN)/python -m pytest tests -m "not slow" $(ARGS)

test-fast: $(STAMP)  ## the tests without the slow end-to-end and notebook runs
	$(BIN)/python -m pytest $(XDIST) tests -m "not slow" $(ARGS)

lab: $(STAMP)  ## open JupyterLab on notebooks/ (ARGS="--port 8890 --no-browser"; works as root)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (salesanalysis)" >/dev/null
	cd notebooks && $(abspath $(BIN))/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(ARGS)

lint: $(STAMP)  ## ruff lint and format check (what CI enforces)
	$(BIN)/ruff check salesanalysis tests benchmarks
	$(BIN)/ruff format --check salesanalysis tests benchmarks

format: $(STAMP)  ## ruff format
	$(BIN)/ruff format salesanalysis tests benchmarks

bench: $(STAMP)  ## the benchmarks (see benchmarks/README.md)
	$(BIN)/python -m pip install --quiet -e ".[test,bench,dask]"
	$(BIN)/python benchmarks/forecast_accuracy.py
	$(BIN)/python benchmarks/forecast_speed.py

sample: $(STAMP)  ## regenerate data/sample from its seeded generator
	$(BIN)/python -m salesanalysis.data.sample --out data/sample

clean:  ## remove the virtualenv and generated reports
	rm -rf $(VENV) reports/*/ reports/.build-* reports/index.html

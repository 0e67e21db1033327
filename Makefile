# socialkpi: the two commands first (see README).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-lake lint bench dashboard collect clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/socialkpi demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# the lake's tests in a venv of their own with the lake extra (DuckDB 1.5.5 and its extension wheels) and a
# real PostgreSQL (Debian's postgresql package): there they must run, not skip
LAKE_VENV  := .venv-lake
LAKE_STAMP := $(LAKE_VENV)/.installed

$(LAKE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/pip install --quiet --upgrade pip
	$(LAKE_VENV)/bin/pip install --quiet -e '.[test,lake]'
	touch $(LAKE_STAMP)

# ... and there, the tests of the code DuckDB 1.5.5 runs otherwise than 2.0: import-csv's readers (read_csv's
# nullstr, read_json's buffers), damaged files and a stale WAL, kill -9 during the collect writer's commits
LAKE_TESTS := $(wildcard tests/test_lake*.py) tests/test_import_csv.py tests/test_import_csv_reading.py \
	tests/test_warehouse_damage.py tests/test_guarantees.py tests/test_collect_writer.py \
	tests/test_warehouse.py::test_a_stale_wal_is_explained

test-lake: $(LAKE_STAMP)
	SOCIALKPI_REQUIRE_LAKE=1 $(LAKE_VENV)/bin/python -m pytest -q $(LAKE_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check collectors warehouse socialkpi dashboard.py tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench

dashboard: $(STAMP)
	$(BIN)/socialkpi dashboard

collect: $(STAMP)
	$(BIN)/socialkpi collect

clean:
	rm -rf $(VENV) $(LAKE_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# One-command set-up: every target that needs the tools creates .venv and installs .[dev] first;
# pytest first installs the system tools the tests run when it can (scripts/system-packages.sh:
# as root or with sudo -n, by apt-get; else one line says what is missing and those tests skip;
# INSTALL_SYSTEM_PACKAGES=no never installs).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
INSTALL_SYSTEM_PACKAGES ?= yes
PKGS   := core goexdb goexfs

.PHONY: test lint typecheck pytest system-packages demo bench clean format

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check $(PKGS) tests scripts
	$(BIN)/ruff format --check $(PKGS) tests scripts

format: $(STAMP)
	$(BIN)/ruff format $(PKGS) tests scripts
	$(BIN)/ruff check --fix $(PKGS) tests scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict $(PKGS)

# the suite on every core (pytest-xdist); PYTEST_ARGS="-n 0" runs it in one process
pytest: $(STAMP) system-packages
	$(BIN)/pytest -q -n auto $(PYTEST_ARGS)

system-packages:
	@INSTALL_SYSTEM_PACKAGES=$(INSTALL_SYSTEM_PACKAGES) sh scripts/system-packages.sh

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

bench: $(STAMP)
	$(BIN)/python scripts/bench_db.py
	$(BIN)/python scripts/bench_clone.py
	$(BIN)/python scripts/bench_journal.py
	$(BIN)/python scripts/bench_redact.py
	$(BIN)/python scripts/bench_lint.py
	$(BIN)/python scripts/bench_fs.py $(BENCH_FS_ARGS)
	$(BIN)/python scripts/bench_mcp.py
	$(BIN)/python scripts/bench_schema.py
	$(BIN)/python scripts/bench_undo.py
	$(BIN)/python scripts/bench_proxy.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-work
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

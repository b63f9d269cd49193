# The single entry point: `make run`, `make test`, `make lint`, `make bench`.
# Needs only python3 (>= 3.11) and make; everything else is installed into the repo.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
TRIAGE_BUILD := build/triage/SOURCES.sha256
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: install install-node run test lint unit integration bench browser clean

# `make run` needs python3 and make only; node packages are for the contract tests.
install: $(VENV)/.installed $(TRIAGE_BUILD)
install-node: node_modules/.installed

# uv lives in its own small venv so `uv sync` never removes it from the project venv.
$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

# Bytecode is compiled once here: a process that must compile its ~700 modules (when
# bytecode is not written, e.g. PYTHONDONTWRITEBYTECODE) pays ~2.5 s of CPU per start.
$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON) --compile-bytecode
	touch $@

# The triage's hot modules compiled with mypyc (service/triage/compiled.py): about twice
# the replies per second. Rebuilt when any triage source changes; a stale build is never used.
$(TRIAGE_BUILD): $(VENV)/.installed $(wildcard service/triage/*.py) scripts/compile_triage.py
	$(BIN)/python scripts/compile_triage.py

# Prism (the Twilio contract tests). Without npm those tests skip (and fail with CI=true).
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --silent --no-audit --no-fund && touch $@; \
	 else echo "npm not found: Prism contract tests will skip"; fi

run: install
	$(BIN)/aftercare db upgrade
	$(BIN)/aftercare serve

# Tests marked `parallel` (every unit and web test, some integration ones) run in one
# xdist worker per core; the rest time real servers, processes and browsers, so they run
# one at a time after. Plain `pytest` runs everything serially.
test: install install-node lint
	$(BIN)/pytest -n auto -m parallel
	$(BIN)/pytest -m "not parallel"

lint: install
	$(BIN)/ruff check service tests bench migrations scripts
	$(BIN)/ruff format --check service tests bench migrations scripts
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/aftercare plans lint

unit: install
	$(BIN)/pytest tests/unit

integration: install install-node
	$(BIN)/pytest tests/integration

# Benchmarks may need extra packages (e.g. the NegEx baseline): the "bench" group.
bench: install
	$(UV) sync --frozen --python $(PYTHON) --group bench
	$(BIN)/python bench/enrol.py
	$(BIN)/python bench/replan.py
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/dispatch_overhead.py
	$(BIN)/python bench/callbacks.py
	$(BIN)/python bench/faults.py
	$(BIN)/python bench/lateness.py
	$(BIN)/python bench/triage.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/timeline.py
	$(BIN)/python bench/security.py
	$(BIN)/python bench/content_lint.py
	$(BIN)/python bench/claim_plans.py
	$(BIN)/python bench/scale_day.py

clean:
	rm -rf $(VENV) $(TOOLS) build node_modules .pytest_cache .mypy_cache .ruff_cache

# Pre-release: the schema is one initial migration regenerated from the models.
# Once a release ships, stop using this and add migrations with `alembic revision`.
regen-migration: install
	rm -f migrations/versions/0001_initial_schema.py /tmp/aftercare-regen.db
	DATABASE_URL=sqlite:////tmp/aftercare-regen.db $(BIN)/alembic revision --autogenerate -m "initial schema" --rev-id 0001
	$(BIN)/ruff format migrations
	rm -f /tmp/aftercare-regen.db

# Two commands: `make run` starts the backend locally, `make test` passes the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit miniprogram-test models demo-models package bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The serving install plus what the tests and the model pipeline need (torch: CPU build).
$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,train]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/xiaofei serve --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check xiaofei functions model tests benchmarks infra
	$(BIN)/ruff format --check xiaofei functions model tests benchmarks infra

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

MP_STAMP := miniprogram/node_modules/.installed

$(MP_STAMP): miniprogram/package-lock.json
	cd miniprogram && npm ci --no-audit --no-fund --loglevel=error
	touch $(MP_STAMP)

miniprogram-test: $(MP_STAMP)
	cd miniprogram && npm test --silent

test: lint typecheck unit miniprogram-test

# The bundled packages from ../shared/data: pneumonia trained on the real films (about 45 minutes here),
# then the skin demo (synthetic training images) with its input gate fitted on real photos too.
models: $(STAMP)
	$(BIN)/python -m model.pipeline models --data ../shared/data --out model
	$(BIN)/python -m model.pipeline demo --only skin --data ../shared/data --out model

# The skin demo from synthetic images alone (no shared data needed; its gate then knows no real photo).
demo-models: $(STAMP)
	$(BIN)/python -m model.pipeline demo --only skin --out model

# SCF code zips + dependency layer + CloudBase folders (infra/package.py); PYTHON_VERSION=3.11 for CloudBase 3.11.
PYTHON_VERSION ?= 3.10
package: $(STAMP)
	$(BIN)/python -m infra.package --python-version $(PYTHON_VERSION)

clean:
	rm -rf $(VENV) .xiaofei dist .pytest_cache .mypy_cache .ruff_cache miniprogram/node_modules

bench: $(STAMP)
	$(BIN)/python -m benchmarks.predict_latency

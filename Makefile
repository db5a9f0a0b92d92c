# Two commands: `make run` starts the backend locally, `make test` passes the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
SERVE_STAMP := $(VENV)/.serving
# One lock per environment and CPython version: the serving layer (what SCF runs; make run) and
# development (make test), the latter constrained to the former (infra/devlock.py re-resolves it).
CPTAG = $(shell $(PY) -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
LAYER_LOCK = infra/layer-lock-$(CPTAG).txt
DEV_LOCK = infra/dev-lock-$(CPTAG).txt
# torch is locked as its CPU build (torch==X+cpu). pip finds it in a local wheel folder (find-links) or on
# PyTorch's CPU index; where neither is configured, name the index:
#   make test PIP_TORCH=--extra-index-url=https://download.pytorch.org/whl/cpu
PIP_TORCH ?=

.PHONY: run test quick lint typecheck unit miniprogram-test models demo-models package bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Serving only: exactly the layer's wheels (no torch, no test tools), then the package itself.
$(SERVE_STAMP): pyproject.toml $(LAYER_LOCK) | $(BIN)/python
	@test -f $(LAYER_LOCK) || { echo "no $(LAYER_LOCK): python -m infra.package lock --python-version X"; exit 1; }
	$(BIN)/pip install -q --no-deps -r $(LAYER_LOCK)
	$(BIN)/pip install -q --no-deps -e .
	touch $(SERVE_STAMP)

# What the tests and the model pipeline need on top, from the dev lock, held to the layer's pins.
$(STAMP): $(SERVE_STAMP) $(DEV_LOCK)
	@test -f $(DEV_LOCK) || { echo "no $(DEV_LOCK): python -m infra.devlock"; exit 1; }
	$(BIN)/pip install -q -r $(DEV_LOCK) -c $(LAYER_LOCK) $(PIP_TORCH)
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

run: $(SERVE_STAMP)
	$(BIN)/xiaofei serve --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check xiaofei functions model tests benchmarks infra
	$(BIN)/ruff format --check xiaofei functions model tests benchmarks infra

typecheck: $(STAMP)
	$(BIN)/mypy --strict xiaofei functions
	$(BIN)/mypy model infra benchmarks

unit: $(STAMP)
	$(BIN)/pytest

MP_STAMP := miniprogram/node_modules/.installed

$(MP_STAMP): miniprogram/package-lock.json
	cd miniprogram && npm ci --no-audit --no-fund --loglevel=error
	touch $(MP_STAMP)

miniprogram-test: $(MP_STAMP)
	cd miniprogram && npm test --silent

test: lint typecheck unit miniprogram-test

# The inner loop: unit tests without training, fuzzing, package builds, shared/data or browsers (< 1 min).
quick: $(STAMP)
	$(BIN)/pytest -m "not slow and not e2e" -x

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
	$(BIN)/python -m benchmarks.stored_path
	$(BIN)/python -m benchmarks.weak_link

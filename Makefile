# Two commands a newcomer needs:  make lab   and   make test
# Everything else here is what those two build on.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-stamp
PORT   ?= 8888
HUB_PORT ?= 8000

.PHONY: setup system-deps lab test bench notebooks gpu-reference clean-venv hub hub-proxy

## setup: create .venv and install the pinned environment (skips when already done)
setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Python 3.10 or newer is needed; found $$($(PYTHON) --version)."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	@touch $(STAMP)

## system-deps: Debian packages for the sandbox, browser tests and graph drawing (root only; optional)
system-deps:
	@bash .ci/system-deps

## lab: set up, then open JupyterLab on the course
lab: setup
	$(BIN)/python -m grading lab --port=$(PORT)

## hub: serve the course to a class with JupyterHub, as root, on HUB_PORT (default 8000); see deploy/README.md
hub: setup hub-proxy
	$(BIN)/python deploy/jupyterhub/hub.py --port=$(HUB_PORT) $(HUB_ARGS)

## hub-proxy: JupyterHub's proxy (configurable-http-proxy) from npm into deploy/jupyterhub/node_modules
hub-proxy: deploy/jupyterhub/node_modules/.bin/configurable-http-proxy

deploy/jupyterhub/node_modules/.bin/configurable-http-proxy: deploy/jupyterhub/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "hub-proxy: npm is missing (Debian: apt-get install npm)"; exit 1; }
	npm ci --prefix deploy/jupyterhub --no-audit --no-fund --loglevel=error
	@touch $@

## test: set up, then run every test and every notebook
test: setup system-deps
	$(BIN)/python -m pytest

## bench: the side-by-side benchmarks in bench/
bench: setup
	$(BIN)/python bench/run_all.py

## notebooks: re-execute the course notebooks in place (after editing one), then commit their outputs
notebooks: setup
	$(BIN)/python course/execute.py

## gpu-reference: on a machine with an NVIDIA GPU, record course/data/gpu_reference.json, then re-run 01 and 04
gpu-reference: setup
	$(BIN)/python course/gpu_reference.py
	$(BIN)/python course/execute.py 01_what_is_pytorch 04_devices

clean-venv:
	rm -rf $(VENV)

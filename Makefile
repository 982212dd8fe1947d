# cs-assistant: `make run` serves the demo, `make test` runs the checks.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip -q --disable-pip-version-check
# CPU build of torch (served locally); see README "GPU install" for CUDA.
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install install-dev install-gpu run demo test lint typecheck pytest bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	@# The widget test drives Debian's Chromium (never a browser download).
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser test"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: chromium not found and not root: the browser test will skip"; fi; \
	fi
	touch $@

install: $(VENV)/.installed            ## create .venv and install the project (quick no-op when done)

install-dev: $(VENV)/.installed-dev    ## also the test tools

install-gpu: $(PY)                     ## CUDA torch + faiss-gpu (machines with an NVIDIA GPU)
	$(PIP) install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cu128
	$(PIP) install -e ".[gpu]"
	touch $(VENV)/.installed

demo: install                          ## build the demo knowledge base, index and models if absent
	$(VENV)/bin/assistant demo prepare

run: demo                              ## serve on http://127.0.0.1:8000 (CSA_PORT to change)
	$(VENV)/bin/assistant serve

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-dev
	$(VENV)/bin/mypy

pytest: install-dev
	$(VENV)/bin/pytest -q

test: lint typecheck pytest            ## ruff, mypy and pytest

bench: install-dev
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache

# Two commands do all set-up on a fresh machine (Python 3.11 and pip needed):
#   make demo   - create .venv, install kubetune, run a real tuning job on a bundled dataset
#   make test   - create .venv, install kubetune with its test tools, run the whole test suite
PYTHON ?= python3.11
VENV   ?= .venv
PIP     = $(VENV)/bin/python -m pip
export DO_NOT_TRACK = 1
export PREFECT_SERVER_ANALYTICS_ENABLED = false

.PHONY: demo test lint images install install-test install-bench constraints bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

install: $(VENV)/bin/python
	$(PIP) install -q -c constraints.txt -e .

install-test: $(VENV)/bin/python
	$(PIP) install -q -c constraints.txt -e ".[test]"

demo: install
	$(VENV)/bin/kubetune tune examples/breast_cancer_rf.yaml --n-trials 30 --parallelism 2

# Two workers by default (each with its own Prefect and MLflow servers); a test module stays on one
# worker, in order. TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= 2

test: install-test
	$(VENV)/bin/python -m pytest -q -ra -n $(TEST_WORKERS) --dist loadfile

# ruff (format and lint), import-linter's layer contracts, and mypy over the installed package. The
# folder kubetune/ holds the package's __init__.py and links to components/ and flows/, so mypy and
# import-linter read kubetune.components and kubetune.flows as they are installed.
lint: install-test
	$(VENV)/bin/ruff format --check components flows tests bench kubetune/__init__.py
	$(VENV)/bin/ruff check components flows tests bench kubetune/__init__.py
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy -p kubetune

# The controller and trial images, built with buildah from infra/Dockerfile.* on a debootstrapped Debian
# base (TORCH=cuda for the GPU trial image). Needs root and Debian's buildah and debootstrap packages.
images:
	PYTHON=$(PYTHON) infra/build-images.sh

# mf-prior-bench 1.10.0 declares numpy<2 but its MF-Hartmann functions only need numpy (2.x works):
# installed without its declared dependencies; the ones it imports are in the bench extra.
install-bench: $(VENV)/bin/python
	$(PIP) install -q -c constraints.txt -e ".[test,bench]"
	$(PIP) install -q --no-deps -c constraints.txt mf-prior-bench==1.10.0

bench: install-bench
	$(VENV)/bin/python bench/overhead.py

constraints:
	$(PIP) freeze --exclude-editable | grep -viE "^(kubetune|pip|setuptools|wheel)==" \
		| sed 's/^torch==\(.*\)+cpu/torch==\1/' > constraints.txt

clean:
	rm -rf $(VENV) .kubetune mlflow.db mlruns mlartifacts

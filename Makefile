# The README's two commands: `make demo` and `make test`. Each sets up .venv first (once, and again
# whenever pyproject.toml changes): torch==2.13.0 (the CPU build) before anything else, so no
# dependency can pull a multi-GB CUDA build, then ctrviz with its extras.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
EXTRAS := test
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
STAMP := $(VENV)/.installed-$(EXTRAS)
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(FIND_LINKS) $(TORCH)
	$(PY) -m pip install --quiet --disable-pip-version-check $(FIND_LINKS) -e '.[$(EXTRAS)]'
	@touch $@

setup: $(STAMP)

demo: setup
	$(PY) -m ctrviz demo

lint: setup
	$(PY) -m ruff check ctrviz tests benchmarks

# Unit tests pick the Agg backend in tests/conftest.py; MPLBACKEND is never exported here, since
# notebook kernels would inherit it and lose their figures.
# pytest exits 5 when it collected no test: for this project that is a broken suite, so it fails
# with a message instead of passing silently.
test: lint
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5) - check testpaths"; exit 1; fi; \
	exit $$rc

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache ctrviz-out

# The README's two commands: `make demo` and `make test`. Each sets up .venv first (once, and again
# whenever pyproject.toml changes): torch==2.13.0 (the CPU build) before anything else, so no
# dependency can pull a multi-GB CUDA build, then ctrviz with its extras (test, lab, and browser for
# tests/test_browser.py, which also needs Debian's chromium: `make test` apt-installs it when missing).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH := torch==2.13.0
EXTRAS := test,lab,browser
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
PYTEST_ARGS ?=
# The browser test (JupyterLab in headless Chromium) fails rather than skips when a piece is missing;
# `make test REQUIRE_BROWSER=0` lets it skip (and installs no chromium).
REQUIRE_BROWSER ?= 1
CHROMIUM := /usr/bin/chromium

.PHONY: setup demo test lint clean notebooks chromium

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(FIND_LINKS) $(TORCH)
	$(PY) -m pip install --quiet --disable-pip-version-check $(FIND_LINKS) -e '.[$(EXTRAS)]'
	@touch $@

setup: $(STAMP)

demo: setup
	$(PY) -m ctrviz demo

lint: setup
	$(PY) -m ruff check ctrviz tests benchmarks notebooks/clean.py

# Unit tests pick the Agg backend in tests/conftest.py; MPLBACKEND is never exported here, since
# notebook kernels would inherit it and lose their figures.
# pytest exits 5 when it collected no test: for this project that is a broken suite, so it fails
# with a message instead of passing silently.
test: lint chromium
	@CTRVIZ_REQUIRE_BROWSER=$(REQUIRE_BROWSER) $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests (exit 5) - check testpaths"; exit 1; fi; \
	exit $$rc

# Debian's chromium for tests/test_browser.py (playwright drives it; never `playwright install`), only when
# $(CHROMIUM) is missing: apt-get as root, or through `sudo -n`; otherwise a message saying what to run.
chromium:
	@if [ -x $(CHROMIUM) ] || [ "$(REQUIRE_BROWSER)" != 1 ]; then exit 0; fi; \
	skip="or run 'make test REQUIRE_BROWSER=0' to skip the browser test"; \
	if ! command -v apt-get >/dev/null 2>&1; then \
		echo "make: the browser test needs Chromium at $(CHROMIUM) and there is no apt-get here: install it with this system's package manager, $$skip" >&2; exit 1; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else echo "make: the browser test needs Chromium at $(CHROMIUM); installing it needs root: run 'sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium' once, $$skip" >&2; exit 1; fi; \
	echo "make: installing Debian's chromium for the browser test (apt-get, once; about 400 MB)"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null && \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null || { \
		echo "make: 'apt-get install chromium' failed (output above), $$skip" >&2; exit 1; }; \
	test -x $(CHROMIUM) || { echo "make: apt-get installed chromium but $(CHROMIUM) is missing (Ubuntu's package is a snap wrapper): install Debian's build, $$skip" >&2; exit 1; }

# Re-run notebooks in place (one thread, as the nbval test) and strip their metadata for git:
# `make notebooks` (all), `make notebooks NOTEBOOKS=notebooks/02_why_coaction.ipynb` (one).
NOTEBOOKS ?= $(wildcard notebooks/*.ipynb)
notebooks: setup
	$(PY) notebooks/clean.py $(NOTEBOOKS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache ctrviz-out

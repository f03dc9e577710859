# make lab   set up .venv, then open JupyterLab on notebooks/
# make run   set up, then execute every notebook in place, headless
# make test  set up, then run the unit tests and execute the notebooks under nbval, twice:
#            in this CPU's own arithmetic, then with the portable arithmetic forced; then the browser test
# make test-native / make test-portable   one of the two passes
# make test-browser   the console and notebook 05 in JupyterLab and Voilà, driven by headless Chromium
# make demo  the attack console as a web app (Voilà) on http://127.0.0.1:8866
# make site  the series and the seminar guide as static HTML in build/site/ (offline; for readers without a kernel)
# make attack SEED=78483847   one attack from the command line, JSON out
# make long-runs   remake the shipped long runs in results/long_runs/ (the full-length sweeps the
#                  notebooks and the README quote) and rewrite the README's tables from them

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_CMD := $(PY) -m pytest tests/ --ignore=tests/browser $(wildcard notebooks/*.ipynb notebooks/solutions/*.ipynb) --nbval-lax --nbval-current-env --nbval-cell-timeout=300
SEED ?= 78483847

.PHONY: setup lab run demo site test test-native test-portable test-browser attack long-runs clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -e .
	touch $(STAMP)

# JupyterLab refuses to run as root unless told (containers, CI machines)
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	$(VENV)/bin/jupyter lab $(ROOT_FLAG) notebooks/

demo: setup
	$(VENV)/bin/voila notebooks/00_console.ipynb --Voila.ip=127.0.0.1 --port=8866 --no-browser

site: setup
	$(PY) scripts/build_site.py --out build/site

run: setup
	$(PY) scripts/execute_notebooks.py --readme README.md --guide docs/seminar.md notebooks/*.ipynb

# The instruction-set variables of helpers.arithmetic's portable setting: a second machine's rounding
PORTABLE := ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 MKL_CBWR=COMPATIBLE
NATIVE := -u ATEN_CPU_CAPABILITY -u ONEDNN_MAX_CPU_ISA -u MKL_CBWR

test: test-native test-portable test-browser

test-native: setup
	env $(NATIVE) DLG_EXPECT_ARITHMETIC=native TQDM_DISABLE=1 $(TEST_CMD)

test-portable: setup
	env $(NATIVE) $(PORTABLE) DLG_EXPECT_ARITHMETIC=portable TQDM_DISABLE=1 $(TEST_CMD)

test-browser: setup
	env $(NATIVE) TQDM_DISABLE=1 $(PY) -m pytest tests/browser -v

attack: setup
	$(PY) -m helpers attack --seed $(SEED) --json

long-runs: setup
	env TQDM_DISABLE=1 $(PY) scripts/long_runs.py --all --readme README.md

clean:
	rm -rf $(VENV) *.egg-info

# Two commands for a fresh Debian/Ubuntu machine with Python 3.11+ and Node/npm:
#   make run   - set up, migrate, seed the demo, and start the web server and a worker
#   make test  - set up the test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WEB_WORKERS ?= 2
PYTEST_ARGS ?=
FUZZ_RUNS ?= 3
FUZZ_EXAMPLES ?= 25

.DEFAULT_GOAL := help
.PHONY: help run dev test fuzz install install-dev npm env migrate lint messages check-messages clean

help:
	@echo "make run    set up everything and start web + worker on http://$(HOST):$(PORT)"
	@echo "make test   install the test dependencies and run the test suite"
	@echo "make dev    like run, but Django's autoreloading development server (DEBUG on)"
	@echo "make lint   ruff + makemigrations --check"
	@echo "make fuzz   fuzz the REST API with new random seeds (FUZZ_RUNS=3 runs, FUZZ_EXAMPLES=25 each)"

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# `npm ci` trips over rollup's optional platform packages missing from the lock (npm/cli#4828);
# `npm install` installs the locked versions just the same.
node_modules/.installed: package.json package-lock.json
	npm install --ignore-scripts --no-audit --no-fund
	touch $@

install: $(VENV)/.installed npm
install-dev: $(VENV)/.installed-dev npm
npm: node_modules/.installed

# A private .env with a fresh SECRET_KEY, made once; edit it to configure the instance.
.env: | $(VENV)/.installed
	$(PY) -c "import secrets; print('SECRET_KEY=' + secrets.token_urlsafe(50))" > $@
	@echo "Wrote .env with a new SECRET_KEY (see .env.example for every other setting)."

migrate: install .env
	$(PY) manage.py migrate --noinput

# What `run` and `dev` serve. Unless SITE_URL is set (environment or .env), QR codes, print sheets,
# e-mails and the demo's output link here, and the logs are text lines rather than JSON.
run dev: export ARV_SERVE_URL = http://$(HOST):$(PORT)

run: install .env migrate
	$(PY) manage.py seed_demo
	$(PY) manage.py setup_schedules
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@echo ""
	@echo "ARV is starting on http://$(HOST):$(PORT)/  (portal: /portal/, back office: /admin/)"
	@echo "The demo logins are above; their random passwords are printed only on the first run."
	@echo "Stop with Ctrl+C."
	@trap 'kill 0' INT TERM EXIT; \
	  $(VENV)/bin/gunicorn arv.wsgi --bind $(HOST):$(PORT) --workers $(WEB_WORKERS) --access-logfile - & \
	  $(PY) manage.py qcluster & \
	  $(PY) manage.py welcome --wait & \
	  wait

dev: install migrate
	DEBUG=1 $(PY) manage.py seed_demo
	@trap 'kill 0' INT TERM EXIT; \
	  DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT) & \
	  DEBUG=1 $(PY) manage.py qcluster & \
	  DEBUG=1 $(PY) manage.py welcome --wait & \
	  wait

# pytest, then the viewer's JavaScript under Node's own test runner (jstests/). Both always run,
# and the target fails if either failed (make's error line shows Node's status if Node failed,
# else pytest's).
test: install-dev
	$(PY) -m pytest $(PYTEST_ARGS); pytest_status=$$?; \
	node --test jstests/; node_status=$$?; \
	if [ $$node_status -ne 0 ]; then exit $$node_status; fi; exit $$pytest_status

# `make test` fuzzes the API with one fixed, derandomised generation; this explores with new random
# seeds. A failing run prints its seed: replay it with ARV_FUZZ_SEED=<seed> and the same examples.
fuzz: install-dev
	@mkdir -p var
	@for run in $$(seq $(FUZZ_RUNS)); do \
	  log=var/fuzz-$$run.log; \
	  echo "== API fuzz run $$run of $(FUZZ_RUNS) ($(FUZZ_EXAMPLES) examples per operation; output in $$log)"; \
	  ARV_FUZZ_SEED=random ARV_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
	    $(PY) -m pytest arv/tests/test_api_fuzz.py -p no:cacheprovider -q -s >$$log 2>&1; \
	  status=$$?; \
	  grep -E "^Seed:|generated,|[0-9]+ (passed|failed)" $$log; \
	  [ $$status -eq 0 ] || { echo "Failed: see $$log; replay with ARV_FUZZ_SEED=<seed above>"; exit 1; }; \
	done

lint: install-dev
	$(VENV)/bin/ruff check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

messages: install-dev
	DEBUG=1 $(PY) manage.py makemessages --locale ru --ignore "node_modules/*" --ignore ".venv/*" --ignore "bench/*" --no-obsolete
	DEBUG=1 $(PY) manage.py compilemessages --locale ru --ignore "node_modules/*" --ignore ".venv/*"

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache

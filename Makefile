# NightPOS — the two quick-start commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080

.PHONY: run test lint venv test-venv migration translations clean bench bench-quick bench-pg fuzz newman screenshots

# The venv is rebuilt when pyproject.toml changes, and when the sandbox's C extension does
# (setup.py builds it in place: nightpos_app/sandbox/native.py).
$(BIN)/.installed: pyproject.toml setup.py nightpos_app/sandbox/_fastguards.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests install third-party addon distributions too: an action type
# (docs/action-types.md) and a model with its own migrations (docs/addons.md).
EXAMPLE_ADDONS := tests/fixtures/nightpos-example-action tests/fixtures/nightpos-example-model
$(BIN)/.installed-test: $(BIN)/.installed $(EXAMPLE_ADDONS:%=%/pyproject.toml)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet $(EXAMPLE_ADDONS:%=-e %)
	touch $@

venv: $(BIN)/.installed
test-venv: $(BIN)/.installed-test

# The benchmarks serve the app with gunicorn (the prod extra) and profile with pyinstrument.
$(BIN)/.installed-bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[prod,bench]'
	touch $@

## run: migrate the SQLite database, load demo data, create the admin, serve on HOST:PORT
run: $(BIN)/.installed
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python run.py

## test: the whole test suite (NIGHTPOS_TEST_DATABASE_URL selects another database)
test: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## screenshots: run the browser tests and keep the screenshots they take in docs/img/ (the
## README's walkthrough is tests/e2e/test_browser_webhook.py, its pictures are that test's)
screenshots: $(BIN)/.installed-test
	NIGHTPOS_SCREENSHOTS=docs/img $(BIN)/python -m pytest tests/e2e -q -m 'not slow' $(PYTEST_ARGS)

## fuzz: Schemathesis on every operation of the REST API, every check, against a throwaway
## instance (10 minutes; CI runs a 200-second version in tests/e2e/test_api_fuzz.py).
## FUZZ_ARGS="--max-time 1800 --seed 1" passes options to schemathesis.
fuzz: $(BIN)/.installed-test
	$(BIN)/python scripts/api_checks.py fuzz -- $(FUZZ_ARGS)

## newman: the Postman collection of the specification's use cases (docs/postman/), run with
## newman against a throwaway instance; newman is installed into node_modules/ when missing.
NEWMAN := node_modules/.bin/newman
$(NEWMAN):
	command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null)
	npm install --no-save --no-audit --no-fund --prefix . 'newman@^6'

newman: $(BIN)/.installed $(NEWMAN)
	$(BIN)/python scripts/api_checks.py newman --newman $(NEWMAN)

## migration: autogenerate a migration after changing models (make migration m="add x");
## addon=<name> writes into that addon's own migrations/ folder, for its tables only (the addon
## is enabled for the run)
migration: $(BIN)/.installed
	NIGHTPOS_ADDONS="$${NIGHTPOS_ADDONS:-contacts,sales,webhooks}$(addon:%=,%)" \
		$(BIN)/flask --app nightpos_app nightpos migration -m "$(m)" $(addon:%=--addon %)

## translations: extract the texts of the screens, update each language's catalog, compile them
## (then translate what is new in nightpos_app/translations/<lang>/LC_MESSAGES/messages.po and
## run it again; commit the .pot, the .po and the .mo). LANGS="th fr" adds a language.
TRANSLATIONS := nightpos_app/translations
LANGS ?= th
translations: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy -k translate --add-location=file \
		--sort-output --project=NightPOS --copyright-holder=NightPOS \
		-o $(TRANSLATIONS)/messages.pot .
	for lang in $(LANGS); do \
		$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
			-l $$lang --init-missing --ignore-obsolete || exit 1; \
	done
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

## bench: the benchmarks (bench/), full size: tables, targets met or not, bench/results/latest.json
## (BENCH_ARGS="--only webhook,sandbox"; BENCH_DATABASE_URL=postgresql+psycopg://... for PostgreSQL)
bench: $(BIN)/.installed-bench
	$(BIN)/python -m bench $(BENCH_ARGS)

## bench-quick: every benchmark at tiny sizes, the full table (CI's smoke run; timings not asserted)
bench-quick: $(BIN)/.installed-bench
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

## bench-pg: `make bench` on a throwaway PostgreSQL this target starts and stops; PG_DURABLE=1
## keeps fsync and synchronous_commit on, as a production server runs
bench-pg: $(BIN)/.installed-bench
	dir=$$(mktemp -d /tmp/nightpos-bench-pg.XXXXXX); \
	port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	url=$$(scripts/throwaway-postgres.sh start $$dir $$port) || exit 1; \
	BENCH_DATABASE_URL=$$url $(BIN)/python -m bench $(BENCH_ARGS); status=$$?; \
	scripts/throwaway-postgres.sh stop $$dir; rm -rf $$dir; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache

# Two commands: `make run` and `make test`. Both work on a fresh machine with only Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install run test lint bench-ingest clean-db

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(BIN)/.installed

# The IdP connector tests' real peer (oidc-provider, npm), with the Node from requirements.txt.
# A failed install does not fail `make test`: the peer tests then skip, saying why.
OIDC_PEER := tests/peers/oidc
$(OIDC_PEER)/node_modules/.installed: $(OIDC_PEER)/package-lock.json $(BIN)/.installed
	@if cd $(OIDC_PEER) && PATH="$(CURDIR)/$(BIN):$$PATH" npm ci --no-audit --no-fund; then \
		touch $(CURDIR)/$@; \
	else echo "npm ci failed in $(OIDC_PEER): the IdP connector peer tests will skip"; fi

# The okta connector's peer: Stoplight Prism (npm) serving Okta's own OpenAPI spec (a subset).
OKTA_PEER := tests/peers/okta
$(OKTA_PEER)/node_modules/.installed: $(OKTA_PEER)/package-lock.json $(BIN)/.installed
	@if cd $(OKTA_PEER) && PATH="$(CURDIR)/$(BIN):$$PATH" npm ci --no-audit --no-fund; then \
		touch $(CURDIR)/$@; \
	else echo "npm ci failed in $(OKTA_PEER): the okta connector peer tests will skip"; fi

# Embedded PostgreSQL + migrate + first-start admin and demo data + web, Celery worker and beat.
run: install
	$(BIN)/python -m governance.platform.launcher

# pytest on a throwaway embedded PostgreSQL under var/pgtest (or on DATABASE_URL when set), one
# process per core (TEST_WORKERS; each has its own test database), then the few tests marked
# `exclusive` (they restart the cluster) alone. Exit status 5 of the second run is "none of the
# selected tests is exclusive", not a failure.
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test: install $(OIDC_PEER)/node_modules/.installed $(OKTA_PEER)/node_modules/.installed
	PGDATA_DIR=$(CURDIR)/var/pgtest $(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not exclusive" $(PYTEST_ARGS)
	PGDATA_DIR=$(CURDIR)/var/pgtest $(BIN)/python -m pytest -m exclusive $(PYTEST_ARGS); \
		status=$$?; [ $$status -eq 5 ] || exit $$status

# The house's rules: ruff format and lint (ruff.toml, line length 100) and the import contracts
# (.importlinter: layers, no cycles, cores free of views). CI runs it before the tests.
lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# Forget the embedded database (stops it first).
clean-db: install
	$(BIN)/python -c "from governance.platform import devdb; devdb.wipe()"

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

# Embedded PostgreSQL + migrate + first-start admin and demo data + web, Celery worker and beat.
run: install
	$(BIN)/python -m governance.platform.launcher

# pytest on a throwaway embedded PostgreSQL under var/pgtest (or on DATABASE_URL when set).
test: install
	PGDATA_DIR=$(CURDIR)/var/pgtest $(BIN)/python -m pytest $(PYTEST_ARGS)

# Forget the embedded database (stops it first).
clean-db: install
	$(BIN)/python -c "from governance.platform import devdb; devdb.wipe()"

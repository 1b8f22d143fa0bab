# Two promises: `make run` and `make test` work on a bare machine (embedded default: SQLite,
# eager Celery, offline payments). Set DATABASE_URL / CELERY_BROKER_URL to use real services.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format migrate seed worker beat clean messages

$(STAMP): requirements.txt requirements-dev.txt requirements-build.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-build.txt
	$(BIN)/python -m pip install --quiet --no-build-isolation -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  Compute Market is starting at http://$(HOST):$(PORT)/"
	@echo "  API docs: http://$(HOST):$(PORT)/api/v1/docs/   Admin: http://$(HOST):$(PORT)/admin/"
	@echo "  Log in with one of the demo logins printed above."
	@echo ""
	DEBUG=$${DEBUG-1} $(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Refresh the translation catalogs from the sources, then compile them (both are committed).
messages: install
	DEBUG=1 $(BIN)/python manage.py makemessages --locale zh_Hans --no-obsolete --ignore ".venv/*" \
		--ignore "tests/*" --ignore "benchmarks/*" --ignore "staticfiles/*"
	DEBUG=1 $(BIN)/python manage.py compilemessages --locale zh_Hans --ignore ".venv/*"

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: install
	$(BIN)/python manage.py seed_demo

worker: install
	$(BIN)/celery -A config worker --loglevel=info

beat: install
	$(BIN)/celery -A config beat --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache

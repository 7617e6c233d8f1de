# Two commands do everything on a fresh machine with Python 3.11+ and git:
#   make run    start kanal on the embedded SQLite database (http://127.0.0.1:8000/lapor)
#   make test   run the test suite (also on PostgreSQL when KANAL_TEST_DATABASE_URL is set)

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { command -v $$p; break; }; done)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Jakarta's kelurahan boundaries are not shipped with kanal; use the shared copy when present.
SHARED_BOUNDARIES := $(wildcard ../shared/data/jakarta_kelurahan.geojson)
ifneq ($(SHARED_BOUNDARIES),)
ifeq ($(origin KANAL_BOUNDARIES),undefined)
export KANAL_BOUNDARIES := $(abspath $(SHARED_BOUNDARIES))
endif
endif

.PHONY: run test bench clean

$(BIN)/.installed: setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "kanal needs Python 3.11 or newer"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

# A local .env with a JAKI API key for trying kanal out (never committed).
.env:
	@$(PYTHON) -c 'import secrets; print("KANAL_JAKI_API_KEY=dev-" + secrets.token_urlsafe(18))' > $@
	@if [ -n "$(SHARED_BOUNDARIES)" ]; then echo "KANAL_BOUNDARIES=$(abspath $(SHARED_BOUNDARIES))" >> $@; fi
	@echo "wrote .env with a development JAKI API key (and the boundaries, for .venv/bin/kanal too)"

run: $(BIN)/.installed .env
	@grep '^KANAL_JAKI_API_KEY=' .env | sed 's/^/JAKI API key (from .env): /'
	$(BIN)/kanal serve --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/kanal bench pipeline
	$(BIN)/kanal bench ack

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis

# The user's interface: make install, make up, make down, make test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STATE_DIR ?= .cumulo
PORT ?= 8700
BIND ?= 127.0.0.1
STAMP := $(VENV)/.installed

.PHONY: install up up-fake image down status test lint bench config-reference clean

install: $(STAMP)

$(STAMP): pyproject.toml tools/debian-packages.txt
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		missing=$$(grep -vE '^\s*(#|$$)' tools/debian-packages.txt | while read -r p; do \
			dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'install ok installed' || echo "$$p"; done); \
		if [ -n "$$missing" ]; then \
			echo "installing Debian packages: $$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		fi; \
	else echo "not root: skipping Debian packages (see tools/debian-packages.txt)"; fi
	@if [ "$$(id -u)" = "0" ]; then tools/setup-host.sh; fi
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

up: install
	@$(BIN)/cumulo demo --state-dir $(STATE_DIR) --bind $(BIND) --port $(PORT)

up-fake: install
	@$(BIN)/cumulo up --state-dir $(STATE_DIR) --bind $(BIND) --port $(PORT) --background \
		--driver fake --compute-hosts 3

image: install
	@$(BIN)/cumulo image build --state-dir $(STATE_DIR)

down:
	@$(BIN)/cumulo down --state-dir $(STATE_DIR)

status:
	@$(BIN)/cumulo status --state-dir $(STATE_DIR)

test: install
	$(BIN)/ruff check cumulo tests bench
	$(BIN)/python -m pytest -n auto --dist loadfile -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check cumulo tests bench
	$(BIN)/mypy cumulo

bench: install
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/port_bench.py
	$(BIN)/python bench/image_upload_bench.py
	$(BIN)/python bench/scheduler_bench.py
	$(BIN)/python bench/boot.py
	$(BIN)/python bench/guest.py
	$(BIN)/python bench/net.py

config-reference: install
	$(BIN)/cumulo config reference > docs/config-reference.md

clean:
	rm -rf $(VENV) $(STATE_DIR) .pytest_cache

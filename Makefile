# DeGEN: one entry point. Every target installs what it needs first (idempotent)
# and runs with the project's venv and anvil on PATH.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
NETWORK ?= ethereum:local:foundry

.PHONY: setup stale-build web chromium run deploy test test-long bench bench-worker bench-cli bench-oracle bench-committee bench-web compile abi lock clean

## setup: create .venv, install the Python stack and anvil, build the web page (skipped when up to date)
setup: $(VENV)/.installed node_modules/.installed stale-build web/dist/.built

# Ape recompiles a contract when its own file changes, not when a module or interface it
# imports does: drop the compiled artefacts whenever one of those is newer than them.
stale-build:
	@if [ -f .build/__local__.json ] && [ -n "$$(find contracts/modules contracts/interfaces -newer .build/__local__.json -print -quit)" ]; then rm -rf .build; fi

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c requirements.lock -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	anvil --version | head -1
	touch $@

## web: build the web page into web/dist (viem bundled by esbuild, with the ABIs in abi/)
web: web/dist/.built
WEB_SOURCES := $(wildcard web/src/*.js) web/index.html web/style.css $(wildcard abi/*.json)
web/dist/.built: node_modules/.installed $(WEB_SOURCES)
	mkdir -p web/dist
	esbuild web/src/app.js --bundle --minify --format=esm --target=es2022 --log-level=warning --outfile=web/dist/app.js
	cp web/index.html web/style.css web/dist/
	touch $@

# The browser tests drive Debian's chromium (Playwright's own download cannot run here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## lock: re-resolve the Python dependencies of pyproject.toml into requirements.lock (commit it);
##       `npm install <package>@<version> --save-exact` does the same for package-lock.json
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[test]'
	{ sed -n '1,3p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable | sed -E 's/\+[a-z0-9.]+$$//'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf .lock-venv

## compile: compile the Vyper contracts
compile: setup
	ape compile

## abi: write abi/<Contract>.json for every deployable (for integrators without Ape)
abi: setup
	ape run abi

## run: the whole story on a local anvil (Alice buys a green image from Bob), then stop everything
run: setup
	ape run demo --network $(NETWORK) --verbosity WARNING $(DEMO_ARGS)

## deploy: start a local anvil, deploy every contract, print the addresses, stop that anvil again
##         (a node already listening on 127.0.0.1:8545 is used instead, and left running)
deploy: setup
	ape run deploy --network $(NETWORK)

## test: run the whole test suite against real anvils, in TEST_WORKERS processes (default: the
##       CPU count, at most 4) with an anvil each; TEST_WORKERS=0 runs it in one process
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))
test: setup chromium
	ape compile
	ape test tests/ --network $(NETWORK) -rs -n $(TEST_WORKERS) $(PYTEST_ARGS)

## test-long: only the Hypothesis state machines, with 200 examples each instead of 25
test-long: export DEGEN_STATEFUL_EXAMPLES = 200
test-long: PYTEST_ARGS += -k "conserved or reference_model"
test-long: test

## bench: measure gas per operation on anvil and write docs/gas.md
bench: setup
	python bench/gas.py --network $(NETWORK)

## bench-worker: worker throughput vs direct pipeline calls (tiny model, anvil) -> docs/performance.md
bench-worker: setup
	python bench/worker.py --network $(NETWORK)

## bench-cli: wall time of read-only degen commands (start-up included) -> docs/performance.md
bench-cli: setup
	python bench/cli.py --network $(NETWORK)

## bench-oracle: oracle ingest rate and REC issuance gas per site-period -> docs/performance.md
bench-oracle: setup
	python bench/oracle.py --network $(NETWORK)

## bench-committee: gas of the oracle committee's reports, and three live members' time from a period's end to RECs and HTTP traffic -> docs/performance.md
bench-committee: setup
	python bench/committee.py --network $(NETWORK)

## bench-web: bundle size, page load to offers and the market's overhead felt in Chromium -> docs/performance.md
bench-web: setup chromium
	python bench/web.py --network $(NETWORK)

clean:
	rm -rf .build .pytest_cache $(VENV) node_modules

# Sunset: every task a developer or CI runs. `make demo` and `make test` are the two that matter.
SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go
LOCAL_ENV = $(shell $(GO) run ./infra/local/stack env | sed 's/^export //')

.PHONY: help local-up local-down local-env test unit demo bench chaos build sam-build lint fuzz pgo

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

local-up: ## start dynalite (:8000) and the SES v2 emulator (:8005), create the table
	@infra/local/up.sh

local-down: ## stop exactly the local services local-up started
	@infra/local/down.sh

local-env: ## print the exports that point the AWS SDK and the CLI at the local stack
	@$(GO) run ./infra/local/stack env

# test stops the stack afterwards only if it was not already running: a developer's stack stays up.
# Test binaries are built without the build profile (-pgo=off): with it, the race build of the
# CLI's tests compiles every dependency once more, for nothing; the binaries the tests build and
# run (sunset, the Lambdas) still use it.
test: ## lint, then every test with -race against the local stack and Chromium (started or installed if need be)
	@was_up=$$(ls infra/local/.run/*.pid >/dev/null 2>&1 && echo yes); \
	$(MAKE) --no-print-directory local-up || exit $$?; \
	infra/local/chromium.sh || exit $$?; \
	status=0; \
	$(MAKE) --no-print-directory lint || status=$$?; \
	if [ $$status -eq 0 ]; then \
	  env $(LOCAL_ENV) SUNSET_REQUIRE_LOCAL=1 $(GO) test -pgo=off -race -count=1 ./... || status=$$?; \
	fi; \
	[ -n "$$was_up" ] || $(MAKE) --no-print-directory local-down; \
	exit $$status

unit: ## the tests that need no local stack, and how many skipped for want of it
	@log=$$(mktemp); status=0; \
	$(GO) test -pgo=off -race -v ./... >$$log 2>&1 || status=$$?; \
	if [ $$status -ne 0 ]; then cat $$log; else grep -E '^(ok|\?) ' $$log; fi; \
	echo "$$(grep -c 'make local-up' $$log) tests skipped for want of the local stack (make local-up, or make test)"; \
	rm -f $$log; exit $$status

demo: ## run the main job end to end on the local stack
	@infra/demo/demo.sh

bench: ## every benchmark in infra/bench, printed as tables for the README
	@set -e; for b in infra/bench/*.sh; do echo "== $$b"; bash "$$b"; done

SEEDS ?= 3
NOTICES ?= 3000
FILES ?= 300
chaos: ## a day of FILES log files and a campaign day of NOTICES notices through the handlers with faults injected, for SEEDS seeds (docs/reliability.md)
	@$(MAKE) --no-print-directory local-up || exit $$?; \
	env $(LOCAL_ENV) SUNSET_REQUIRE_LOCAL=1 CHAOS_SEEDS=$(SEEDS) CHAOS_NOTICES=$(NOTICES) CHAOS_FILES=$(FILES) $(GO) test -count=1 -v -timeout 3h -run TestChaos ./infra/chaos

pgo: ## rewrite the profiles sunset and the ingest Lambda are built with (default.pgo), from scans of generated logs
	@infra/pgo.sh

build: ## build every Lambda as bootstrap for provided.al2023/arm64 into .build/<name>/, as sam build does
	@for d in functions/*/; do n=$$(basename $$d); \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o .build/$$n/bootstrap ./$$d || exit 1; \
	  echo "built .build/$$n/bootstrap"; done

# SAM's Go builder runs go build with the caller's environment (it sets only GOOS and GOARCH):
# CGO_ENABLED=0 keeps each bootstrap static on an arm64 build host too. samconfig.toml turns
# SAM's build cache off (it hashes only functions/<name>/, and the code is in shared/).
sam-build: ## sam build for deploying: static bootstraps, never from SAM's cache (docs/deploy.md)
	CGO_ENABLED=0 sam build

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint: ## gofmt, go vet, staticcheck, go mod tidy leaves no diff, cfn-lint template.yaml (when installed)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff
	@if command -v cfn-lint >/dev/null 2>&1; then echo cfn-lint template.yaml infra/edge-waf.yaml; cfn-lint template.yaml infra/edge-waf.yaml; \
	else echo "cfn-lint is not installed: template.yaml not linted (pip install cfn-lint)"; fi

fuzz: ## fuzz every parser for 20s each
	@for f in $$($(GO) test ./shared/connlog -list 'Fuzz.*' | grep ^Fuzz); do \
	  $(GO) test ./shared/connlog -run '^$$' -fuzz "^$$f$$" -fuzztime 20s || exit 1; done

# readonce — run `make help` for the targets.
.DEFAULT_GOAL := help
GO ?= go
BIN ?= bin/readonce
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: help run build docker helm-lint test test-integration axe fuzz bench screenshots lint redoc bench-sweep bench-passphrase

REDOC_VERSION ?= 2.5.4

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

run: ## Run the server on the embedded store (no Redis needed) at http://localhost:8000
	$(GO) run .

build: ## Build the static binary the container ships into bin/ (version from git)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) .

docker: ## Build the container image readonce:$(VERSION) (needs a Docker engine)
	docker build -f deploy/Dockerfile --build-arg VERSION=$(VERSION) -t readonce:$(VERSION) .

helm-lint: ## Lint the Helm chart and render/check every values set (Helm SDK, deploy/ module)
	cd deploy && $(GO) test -count=1 ./...

test: ## Run the hermetic test suite with the race detector
	$(GO) test -race ./...

axe: ## Install axe-core (pinned in internal/browsertest/axe/package-lock.json) for the browser tests' WCAG audit
	npm ci --prefix internal/browsertest/axe --no-audit --no-fund --loglevel=error

redocly: ## Install redocly (pinned in internal/openapilint/package-lock.json) for the OpenAPI lint test
	npm ci --prefix internal/openapilint --no-audit --no-fund --loglevel=error

test-integration: axe redocly ## Store and HTTP suites on a real redis-server, browser tests in Chromium (Debian packages) with a WCAG audit
	$(GO) test -race -count=1 -tags integration -run Integration ./...

fuzz: ## Fuzz the request decoder, envelope opening and end-to-end decryption for 30s each
	$(GO) test ./server -run '^$$' -fuzz FuzzDecodeCreate -fuzztime 30s
	$(GO) test ./seal -run '^$$' -fuzz FuzzOpen -fuzztime 30s
	$(GO) test ./client/e2e -run '^$$' -fuzz FuzzDecrypt -fuzztime 30s

bench: ## Load-test readonce against bench/baseline and bench/floor on a real redis-server (a few minutes)
	bench/run.sh

bench-passphrase: ## readonce alone: the pair, the passphrase trip, and plain users beside a flood of wrong passphrases (idle vs flooded)
	READONCE_ENV="RATE_LIMIT_PASSPHRASE_PER_MINUTE=0" TARGETS=readonce ROUNDS=$${ROUNDS:-3} \
	  PROFILES=bench/profiles/pair.json,bench/profiles/passphrase.json,bench/profiles/passphrase-flood.json bench/run.sh

bench-sweep: ## The pair profile at 1, 16, 64 and 512 connections against floor, baseline and readonce (one round each)
	VUS=1,16,64,512 ROUNDS=$${ROUNDS:-1} PROFILES=bench/profiles/pair.json bench/run.sh

screenshots: ## Rewrite the README's screenshots in docs/ (needs chromium)
	$(GO) test -count=1 -tags integration -run 'DocsInBrowser|SharingInBrowser' ./server -args -readme-screenshots=$(CURDIR)/docs

redoc: ## Re-fetch the vendored ReDoc bundle (npm pack redoc@REDOC_VERSION) and check it against server/web/redoc/SHA256SUMS
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cd "$$tmp" && \
	  npm pack redoc@$(REDOC_VERSION) --silent >/dev/null && tar xzf redoc-$(REDOC_VERSION).tgz && \
	  cp package/bundles/redoc.standalone.js package/bundles/redoc.standalone.js.LICENSE.txt package/LICENSE . && \
	  sha256sum -c $(CURDIR)/server/web/redoc/SHA256SUMS && \
	  cp redoc.standalone.js redoc.standalone.js.LICENSE.txt LICENSE $(CURDIR)/server/web/redoc/ && \
	  echo "server/web/redoc: redoc $(REDOC_VERSION), checked against SHA256SUMS (a new version: update REDOC_VERSION and SHA256SUMS together)"

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) vet -tags integration ./...

# pwreset — build, test and deploy. `make` alone lists the targets.
#
# Only Go is required for build, package, test, lint, demo and bench.
# deploy and invoke need Serverless Devs (`s`); without it they run it with
# npx (Node.js).

# The binary's name is the function's handler (s.yaml: handler: main);
# internal/deploy's tests check the two agree.
BINARY   ?= main
DIST     ?= dist
PACKAGE  ?= $(DIST)/pwreset.zip
GO       ?= go
# Extra flags for go test, e.g. TESTFLAGS=-race (needs cgo) or -count=1.
TESTFLAGS ?=
TEST_TIMEOUT ?= 9m
# Each fuzz target (func FuzzXxx in a _test.go file) runs this many inputs
# in `make test` (eight targets: about 40 s in all); FUZZTIME=0 skips
# fuzzing. `make fuzz FUZZTIME=5m` digs deeper. The default is a count, not a
# duration: Go 1.26's fuzz coordinator can fail a target with "context
# deadline exceeded", and no failing input, when a duration runs out while a
# worker is busy (go.dev/issue/75804, fixed in Go 1.27); a count sets no
# deadline to race.
FUZZTIME ?= 30000x
# The event file under events/ that `make invoke` sends.
EVENT    ?= http-cloudsso.json

S := $(shell command -v s 2>/dev/null || echo "npx --yes @serverless-devs/s")

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@echo "pwreset — make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-8s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: EVENT=$(EVENT) (invoke), FUZZTIME=$(FUZZTIME), TESTFLAGS=$(TESTFLAGS)"

.PHONY: build
build: ## Build dist/main for Function Compute (linux/amd64, static, stripped).
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(DIST)/$(BINARY) .

.PHONY: package
package: build ## Zip the binary, named as the handler, into dist/pwreset.zip.
	$(GO) run ./internal/deploy/mkzip -o $(PACKAGE) -name $(BINARY) $(DIST)/$(BINARY)
	@echo "wrote $(PACKAGE)"

.PHONY: test
test: lint ## Vet, check formatting, a short fuzz run, then every test.
	@$(MAKE) --no-print-directory fuzz
	$(GO) test -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./...

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (0 skips).
	@if [ "$(FUZZTIME)" = "0" ]; then echo "fuzz: skipped (FUZZTIME=0)"; exit 0; fi; \
	found=0; \
	for file in $$(grep -rl --include='*_test.go' -E '^func Fuzz[A-Z0-9_]' . 2>/dev/null); do \
		dir=$$(dirname "$$file"); \
		for fn in $$(sed -n -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$$file"); do \
			found=1; \
			echo "$(GO) test -run '^$$' -fuzz '^$$fn$$' -fuzztime $(FUZZTIME) $$dir"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$dir" || exit 1; \
		done; \
	done; \
	if [ $$found = 0 ]; then echo "fuzz: no fuzz targets"; fi

.PHONY: lint
lint: ## gofmt (must list nothing) and go vet.
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

.PHONY: demo
demo: ## Run a rotation end to end on the local cloud: no account, no network.
	$(GO) run ./internal/demo

.PHONY: bench
bench: ## Run the benchmarks, measure against the targets, write docs/PERFORMANCE.md.
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./internal/perf/cmd/perfreport -out docs/PERFORMANCE.md

.PHONY: deploy
deploy: ## Deploy with Serverless Devs (s.yaml; its pre-deploy action builds).
	$(S) deploy

.PHONY: invoke
invoke: ## Invoke the deployed function with events/$EVENT.
	@test -f events/$(EVENT) || { echo "no such event file: events/$(EVENT)"; ls events; exit 1; }
	$(S) invoke -f events/$(EVENT)

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(DIST)

# pwreset — build, test and deploy. `make` alone lists the targets.
#
# Only Go is required for build, package, test, lint, demo and bench.
# deploy and invoke need Serverless Devs (`s`); without it they run it with
# npx (Node.js).

# The binary's name is the function's handler (s.yaml: handler: main);
# internal/checks/deploy's tests check the two agree. DIST is s.yaml's code:
# directory, uploaded as is by `s deploy`: nothing else goes there.
BINARY   ?= main
DIST     ?= dist
# make package writes outside DIST, so that a deploy never uploads an old
# package inside the new one; a SHA-256 file goes next to the zip.
RELEASE  ?= release
PACKAGE  ?= $(RELEASE)/pwreset.zip
GO       ?= go
# The release, stamped into the binary (main.version) and logged on every line.
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
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
# The event file under events/ that `make invoke` sends: a dry run by
# default, which validates and checks permissions and changes nothing.
EVENT    ?= dry-run/http-cloudsso.json
# Serverless Devs: the access alias (s config add -a ACCESS) and extra flags
# for s, e.g. ARGS='--debug'. Without s on PATH, deploy, invoke and remove run
# the pinned S_VERSION with npx (Node.js).
ACCESS   ?= default
ARGS     ?=
S_VERSION ?= 3.1.10
# The function's RAM role, created by `make role` (aliyun CLI).
ROLE     ?= pwreset-fc

S := $(shell command -v s 2>/dev/null)
ifeq ($(S),)
ifneq ($(shell command -v npx 2>/dev/null),)
S := npx --yes @serverless-devs/s@$(S_VERSION)
endif
endif

# Without a terminal on stdin (CI, a pipe) s must not wait for an answer:
# fc3 asks before overwriting a function changed in the console, and -y
# answers yes ("s deploy -y", Function Compute, "Manage function resources
# by using Serverless Devs"); stdin from /dev/null turns any other prompt
# into an error instead of a hang.
NOTTY := if [ -t 0 ]; then yes=""; else yes="-y"; exec </dev/null; fi

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@echo "pwreset — make targets:"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-12s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: EVENT=$(EVENT) (invoke), ACCESS=$(ACCESS), ARGS=$(ARGS) (deploy, invoke, remove),"
	@echo "           VERSION=$(VERSION), FUZZTIME=$(FUZZTIME), TESTFLAGS=$(TESTFLAGS)"

.PHONY: build
build: ## Build dist/main for Function Compute (linux/amd64, static, stripped, version stamped).
	GOOS=linux GOARCH=amd64 CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(DIST)/$(BINARY) .

.PHONY: package
package: build ## Zip the binary, named as the handler, into release/pwreset.zip (+ .sha256).
	@mkdir -p $(dir $(PACKAGE))
	$(GO) run ./internal/tools/mkzip -o $(PACKAGE) -name $(BINARY) $(DIST)/$(BINARY)
	@echo "wrote $(PACKAGE) and $(PACKAGE).sha256 ($(VERSION))"

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
	$(GO) run ./internal/tools/demo

.PHONY: bench
bench: ## Run the benchmarks, measure against the targets, write docs/PERFORMANCE.md.
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./internal/checks/perf/cmd/perfreport -out docs/PERFORMANCE.md

# need-s stops with a clear message when neither s nor Node.js is there.
.PHONY: need-s
need-s:
	@if [ -z "$(S)" ]; then \
		echo "Serverless Devs is needed: neither 's' nor Node.js's 'npx' is on PATH."; \
		echo "Install Node.js 14 or later, then: npm install -g @serverless-devs/s@$(S_VERSION)"; \
		exit 1; \
	fi

.PHONY: deploy
deploy: need-s ## Deploy with Serverless Devs (s deploy -a ACCESS ARGS; pre-deploy runs make build).
	@$(NOTTY); set -x; $(S) deploy -a $(ACCESS) $$yes $(ARGS)

.PHONY: eventbridge
eventbridge: ## Create or update the EventBridge bus, rule and target (PWRESET_ACCOUNT_ID, deployer's AccessKey).
	$(GO) run ./internal/tools/ebsetup/cmd/ebsetup -spec s.yaml $(EB_ARGS)

.PHONY: invoke
invoke: need-s ## Invoke the deployed function with events/$EVENT (default: a dry run).
	@test -f events/$(EVENT) || { echo "no such event file: events/$(EVENT)"; ls -R events; exit 1; }
	@$(NOTTY); set -x; $(S) invoke -a $(ACCESS) -f events/$(EVENT) $(ARGS)

.PHONY: role
role: ## Create or update the function's RAM role and its policy docs/ram-policy.json (aliyun CLI).
	@command -v aliyun >/dev/null 2>&1 || { echo "make role needs the aliyun CLI (https://github.com/aliyun/aliyun-cli), configured for the deploying user"; exit 1; }
	@set -e; \
	if aliyun ram GetRole --RoleName $(ROLE) >/dev/null 2>&1; then echo "role $(ROLE): exists"; else \
		aliyun ram CreateRole --RoleName $(ROLE) --Description "pwreset function role" \
			--AssumeRolePolicyDocument '{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":["fc.aliyuncs.com"]}}]}' >/dev/null; \
		echo "role $(ROLE): created"; fi; \
	if aliyun ram GetPolicy --PolicyType Custom --PolicyName $(ROLE) >/dev/null 2>&1; then \
		aliyun ram CreatePolicyVersion --PolicyName $(ROLE) --PolicyDocument "$$(cat docs/ram-policy.json)" \
			--SetAsDefault true --RotateStrategy DeleteOldestNonDefaultVersionWhenLimitExceeded >/dev/null; \
		echo "policy $(ROLE): new default version from docs/ram-policy.json"; else \
		aliyun ram CreatePolicy --PolicyName $(ROLE) --PolicyDocument "$$(cat docs/ram-policy.json)" >/dev/null; \
		echo "policy $(ROLE): created"; fi; \
	if aliyun ram ListPoliciesForRole --RoleName $(ROLE) | grep -q '"PolicyName": *"$(ROLE)"'; then echo "policy $(ROLE): attached"; else \
		aliyun ram AttachPolicyToRole --PolicyType Custom --PolicyName $(ROLE) --RoleName $(ROLE) >/dev/null; \
		echo "policy $(ROLE): attached now"; fi

.PHONY: remove
remove: need-s ## Remove the EventBridge rule and bus, then the function and its triggers (s remove).
	$(GO) run ./internal/tools/ebsetup/cmd/ebsetup -spec s.yaml -remove $(EB_ARGS)
	@$(NOTTY); set -x; $(S) remove -a $(ACCESS) $$yes $(ARGS)

.PHONY: clean
clean: ## Remove build output.
	rm -rf $(DIST) $(RELEASE)

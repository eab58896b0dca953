# Gatehouse developer commands. `make run` and `make test` are the two a newcomer needs.
GO           ?= go
BIN          ?= bin/gatehouse
POLICY_DIR   ?= examples/quickstart
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X main.version=$(VERSION)
# Generous: the process tests start real servers and gRPC xDS clients.
TEST_TIMEOUT ?= 15m
BENCH        ?= .
BENCH_PKGS   ?= ./...
BENCH_TIME   ?= 1s

.PHONY: build run test bench bench-short golden fmt lint

## build: compile bin/gatehouse
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatehouse

## run: serve examples/quickstart (xDS on 127.0.0.1:18000, admin on 127.0.0.1:18080)
run: build
	$(BIN) serve --policy-dir $(POLICY_DIR)

## test: formatting and vet checks, then every test (unit, golden, process)
test: lint
	$(GO) test -timeout $(TEST_TIMEOUT) ./...

## bench: benchmarks with allocation figures (BENCH=regexp BENCH_PKGS=./xds/... to narrow)
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCH_TIME) $(BENCH_PKGS)

## bench-short: every benchmark once, to prove they run (used by .ci/run)
bench-short:
	$(MAKE) --no-print-directory bench BENCH_TIME=1x

## golden: rewrite the translator's golden files (review the diff before committing)
golden:
	$(GO) test ./xds/translate -update

## fmt: gofmt every Go file
fmt:
	gofmt -w .

## lint: fail on unformatted files, then go vet
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed (run make fmt):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

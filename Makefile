# Gatehouse developer commands. `make run` and `make test` are the two a newcomer needs.
GO           ?= go
BIN          ?= bin/gatehouse
POLICY_DIR   ?= examples/quickstart
VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS      := -X main.version=$(VERSION)
# Generous: the process tests start real servers and gRPC xDS clients.
TEST_TIMEOUT ?= 15m
# Every test runs every time: the process tests start real Consul, Redis and
# gatehouse processes, which Go's test cache cannot see, so a cached "ok"
# would hide a failure.
TEST_FLAGS   ?= -count=1
BENCH        ?= .
BENCH_PKGS   ?= ./...
BENCH_TIME   ?= 1s

.PHONY: build run test bench bench-short bench-fleet fuzz-short envoy-api golden fmt lint consul kube coredns eureka-js-client crs-full

# The Consul agent the process tests run (v1.14.4, the last MPL release that
# builds from the module proxy), built in its own module under test/tools/consul
# so its dependencies never enter go.mod. Cached outside the repository; the
# tests find it at the same place (or at $$GATEHOUSE_CONSUL).
CONSUL_VERSION ?= v1.14.4
CONSUL_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/consul-$(CONSUL_VERSION)
CONSUL_BIN     ?= $(CONSUL_CACHE)/consul

# kube-apiserver and etcd for the Kubernetes discovery tests (test/kube), built
# in the throwaway module test/tools/kube (Kubernetes's staging modules pinned
# there by replace directives) so their dependencies never enter go.mod. Cached
# like Consul; the tests find them there (or at $$GATEHOUSE_KUBE_APISERVER and
# $$GATEHOUSE_ETCD).
KUBE_VERSION   ?= v1.36.3
ETCD_VERSION   ?= v3.6.16
KUBE_CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/kube-apiserver-$(KUBE_VERSION)
KUBE_BIN       ?= $(KUBE_CACHE)/kube-apiserver
ETCD_CACHE     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/etcd-$(ETCD_VERSION)
ETCD_BIN       ?= $(ETCD_CACHE)/etcd

# CoreDNS for the DNS discovery tests (test/dns), built in the throwaway
# module test/tools/coredns with only the plugins the tests use (its
# main.go), so its dependencies never enter go.mod. Cached like Consul; the
# tests find it there (or at $$GATEHOUSE_COREDNS). About 2 minutes the first
# time.
COREDNS_VERSION ?= v1.15.0
COREDNS_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/coredns-$(COREDNS_VERSION)
COREDNS_BIN     ?= $(COREDNS_CACHE)/coredns

# The official JavaScript Eureka client (eureka-js-client from npm), which the
# Eureka discovery tests (test/eureka) register instances with: a real client
# producing real payloads. No Java Eureka server runs in the tests; they run a
# Eureka-protocol server written in Go (test/eureka/eurekatest). Installed with
# npm from the lock file in test/tools/eureka-js-client into the cache; the
# tests find it there (or at $$GATEHOUSE_EUREKA_JS, a node_modules folder's
# parent).
EUREKA_JS_VERSION ?= 4.5.0
EUREKA_JS_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/eureka-js-client-$(EUREKA_JS_VERSION)

## build: compile bin/gatehouse
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/gatehouse

## run: serve examples/quickstart (xDS on 127.0.0.1:18000, admin on 127.0.0.1:18080)
run: build
	$(BIN) serve --policy-dir $(POLICY_DIR)

# The process tests fail when Consul, Redis or envoyproxy/ratelimit is
# missing, so `make test` installs or builds them first (cached after the
# first time). GATEHOUSE_SKIP_MISSING=1 opts out of both: nothing is
# installed and the tests that need a missing one are skipped.
TEST_DEPS := $(if $(filter 1,$(GATEHOUSE_SKIP_MISSING)),,consul kube coredns eureka-js-client redis envoy-ratelimit prometheus promql-check docker-compose hydra otlpreceiver)

## test: formatting and vet checks, then every test (unit, golden, process); installs Consul, kube-apiserver and etcd, CoreDNS, eureka-js-client, Redis, envoyproxy/ratelimit, Prometheus, the PromQL checker, docker-compose, ORY Hydra and the OTLP receiver first
test: lint $(TEST_DEPS)
	$(GO) test $(TEST_FLAGS) -timeout $(TEST_TIMEOUT) ./...

## bench: benchmarks with allocation figures (BENCH=regexp BENCH_PKGS=./xds/... to narrow)
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -benchtime $(BENCH_TIME) $(BENCH_PKGS)

## bench-short: every benchmark once, to prove they run (used by .ci/run)
bench-short:
	$(MAKE) --no-print-directory bench BENCH_TIME=1x

## fuzz-short: every Fuzz target of the module, discovered, FUZZ_TIME each (default 5s; used by .ci/run)
FUZZ_TIME ?= 5s
fuzz-short:
	GO=$(GO) FUZZ_TIME=$(FUZZ_TIME) bash .ci/fuzz-short

## envoy-api: regenerate xds/translate/envoyapi_gen.go from the pinned go-control-plane API
envoy-api:
	$(GO) generate ./xds/translate

## bench-fleet: simulated Envoys against gatehouse, stock go-control-plane and the floor (the least a grpc-go ADS server does), side by side (FLEET_N=1000 for the full fleet; see docs/performance.md)
bench-fleet:
	$(GO) test -count=1 -run '^$$' -bench Fleet -benchtime 5x -timeout 60m ./test/fleet

## crs-full: the OWASP Core Rule Set's whole regression suite through the WAF service (make test runs a subset; see docs/security/waf.md)
crs-full:
	GATEHOUSE_CRS_FULL=1 $(GO) test -count=1 -run '^TestCRSRegression$$' -v ./pkg/waf

## golden: rewrite the translator's golden files (review the diff before committing)
golden:
	$(GO) test ./xds/translate -update

## kube: build kube-apiserver and etcd for the Kubernetes tests into $(KUBE_BIN) and $(ETCD_BIN) (each skipped if present; ~10 min the first time)
kube:
	@if [ -x "$(ETCD_BIN)" ]; then echo "etcd: $(ETCD_BIN) (cached)"; else \
	  mkdir -p "$(ETCD_CACHE)" && \
	  echo "etcd: building $(ETCD_VERSION) into $(ETCD_BIN) (about a minute)" && \
	  cd test/tools/kube && $(GO) build -o "$(ETCD_BIN).tmp" go.etcd.io/etcd/server/v3 && \
	  mv "$(ETCD_BIN).tmp" "$(ETCD_BIN)"; fi
	@if [ -x "$(KUBE_BIN)" ]; then echo "kube-apiserver: $(KUBE_BIN) (cached)"; else \
	  mkdir -p "$(KUBE_CACHE)" && \
	  echo "kube-apiserver: building $(KUBE_VERSION) into $(KUBE_BIN) (8-10 minutes)" && \
	  cd test/tools/kube && $(GO) build -o "$(KUBE_BIN).tmp" k8s.io/kubernetes/cmd/kube-apiserver && \
	  mv "$(KUBE_BIN).tmp" "$(KUBE_BIN)"; fi

## coredns: build CoreDNS for the DNS discovery tests into $(COREDNS_BIN) (skipped if present; ~2 min the first time)
coredns:
	@if [ -x "$(COREDNS_BIN)" ]; then echo "coredns: $(COREDNS_BIN) (cached)"; else \
	  mkdir -p "$(COREDNS_CACHE)" && \
	  echo "coredns: building $(COREDNS_VERSION) into $(COREDNS_BIN)" && \
	  cd test/tools/coredns && $(GO) build -o "$(COREDNS_BIN).tmp" . && \
	  mv "$(COREDNS_BIN).tmp" "$(COREDNS_BIN)" && "$(COREDNS_BIN)" -version | sed -n 1p; fi

## eureka-js-client: npm install eureka-js-client $(EUREKA_JS_VERSION) for the Eureka tests into $(EUREKA_JS_CACHE) (skipped if present; needs node and npm)
eureka-js-client:
	@if [ -f "$(EUREKA_JS_CACHE)/node_modules/eureka-js-client/package.json" ]; then echo "eureka-js-client: $(EUREKA_JS_CACHE) (cached)"; else \
	  mkdir -p "$(EUREKA_JS_CACHE)" && \
	  cp test/tools/eureka-js-client/package.json test/tools/eureka-js-client/package-lock.json "$(EUREKA_JS_CACHE)/" && \
	  echo "eureka-js-client: npm ci into $(EUREKA_JS_CACHE)" && \
	  cd "$(EUREKA_JS_CACHE)" && npm ci --no-audit --no-fund --ignore-scripts; fi

## consul: build the Consul agent for the tests into $(CONSUL_BIN) (skipped if present; ~6 min the first time)
consul:
	@if [ -x "$(CONSUL_BIN)" ]; then echo "consul: $(CONSUL_BIN) (cached)"; else \
	  mkdir -p "$(CONSUL_CACHE)" && \
	  echo "consul: building $(CONSUL_VERSION) into $(CONSUL_BIN) (several minutes)" && \
	  cd test/tools/consul && $(GO) build -o "$(CONSUL_BIN).tmp" github.com/hashicorp/consul && \
	  mv "$(CONSUL_BIN).tmp" "$(CONSUL_BIN)" && "$(CONSUL_BIN)" version | sed -n 1p; fi

# The identity provider of the OAuth2 tests (pkg/introspect, test/idp):
# ORY Hydra, built in its own module under test/tools/hydra so that its
# dependencies never enter go.mod. The build tags are Hydra's own (its
# Makefile): sqlite support without loadable extensions. Cached outside the
# repository like Consul; the tests find it there (or at $$GATEHOUSE_HYDRA).
HYDRA_VERSION ?= v2.3.0
HYDRA_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/hydra-$(HYDRA_VERSION)
HYDRA_BIN     ?= $(HYDRA_CACHE)/hydra

.PHONY: hydra

## hydra: build ORY Hydra for the OAuth2 tests into $(HYDRA_BIN) (skipped if present; ~35 min the first time)
hydra:
	@if [ -x "$(HYDRA_BIN)" ]; then echo "hydra: $(HYDRA_BIN) (cached)"; else \
	  mkdir -p "$(HYDRA_CACHE)" && \
	  echo "hydra: building $(HYDRA_VERSION) into $(HYDRA_BIN) (a long build)" && \
	  cd test/tools/hydra && CGO_ENABLED=1 $(GO) build -tags sqlite,sqlite_omit_load_extension -o "$(HYDRA_BIN).tmp" github.com/ory/hydra/v2 && \
	  mv "$(HYDRA_BIN).tmp" "$(HYDRA_BIN)"; fi

# The peer the rate-limit conformance test and benchmark compare against:
# envoyproxy/ratelimit, built in its own module under test/tools/ratelimit
# so its dependencies never enter go.mod. Cached outside the repository; the
# tests find it at the same place (or at $$GATEHOUSE_ENVOY_RATELIMIT).
ENVOY_RATELIMIT_VERSION ?= v1.4.1-0.20260122083618-3fb702589d36
ENVOY_RATELIMIT_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/envoy-ratelimit-$(ENVOY_RATELIMIT_VERSION)
ENVOY_RATELIMIT_BIN     ?= $(ENVOY_RATELIMIT_CACHE)/ratelimit

.PHONY: redis envoy-ratelimit prometheus promql-check docker-compose

# Debian installs wait up to 5 minutes for a dpkg lock another install holds
# (two make targets, or an unattended upgrade) instead of failing at once.
APT_GET ?= apt-get -o DPkg::Lock::Timeout=300

## redis: make sure redis-server and redis-cli are installed (Debian packages, need root; the rate-limit tests start their own servers, clusters and sentinels)
redis:
	@(command -v redis-server && command -v redis-cli) >/dev/null || ($(APT_GET) update && $(APT_GET) install -y redis-server redis-tools) || \
	  (echo "redis: installing redis-server needs root (or set GATEHOUSE_SKIP_MISSING=1 to skip the Redis tests)"; exit 1)
	@redis-server --version

## docker-compose: make sure Debian's docker-compose is installed (needs root) and check docker-compose.yml with `docker-compose config -q` (no Docker engine needed)
docker-compose:
	@command -v docker-compose >/dev/null || ($(APT_GET) update && $(APT_GET) install -y docker-compose) || \
	  (echo "docker-compose: installing Debian's docker-compose package needs root (or set GATEHOUSE_SKIP_MISSING=1 to skip the compose check)"; exit 1)
	@docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml: valid (docker-compose config -q)"

## prometheus: make sure prometheus and promtool are installed (Debian package, needs root; the monitoring tests run both)
prometheus:
	@(command -v prometheus && command -v promtool) >/dev/null || ($(APT_GET) update && $(APT_GET) install -y prometheus) || \
	  (echo "prometheus: installing Debian's prometheus package needs root (or set GATEHOUSE_SKIP_MISSING=1 to skip the monitoring tests)"; exit 1)
	@promtool --version | sed -n 1p

# The PromQL checker the monitoring tests run on every dashboard and rule
# expression: Prometheus's own parser, built in its own module under
# test/tools/promql so that Prometheus's dependencies never enter go.mod.
# Cached like Consul; the tests find it there (or at $$GATEHOUSE_PROMQL_CHECK).
PROMQL_CHECK_VERSION ?= v0.316.0
PROMQL_CHECK_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/promql-check-$(PROMQL_CHECK_VERSION)
PROMQL_CHECK_BIN     ?= $(PROMQL_CHECK_CACHE)/promql-check

## promql-check: build the PromQL checker for the monitoring tests into $(PROMQL_CHECK_BIN) (skipped if present)
promql-check:
	@if [ -x "$(PROMQL_CHECK_BIN)" ]; then echo "promql-check: $(PROMQL_CHECK_BIN) (cached)"; else \
	  mkdir -p "$(PROMQL_CHECK_CACHE)" && \
	  echo "promql-check: building the Prometheus $(PROMQL_CHECK_VERSION) parser into $(PROMQL_CHECK_BIN)" && \
	  cd test/tools/promql && $(GO) build -o "$(PROMQL_CHECK_BIN).tmp" . && \
	  mv "$(PROMQL_CHECK_BIN).tmp" "$(PROMQL_CHECK_BIN)"; fi

# The real OTLP receiver of the tracing tests (pkg/tracing, pkg/authz,
# pkg/ratelimit, the control-plane trace): the OpenTelemetry Collector's own
# otlpreceiver, built in its own module under test/tools/otlpreceiver so that
# the Collector's dependencies never enter go.mod; it prints what it receives
# as OTLP/JSON. Cached outside the repository like Consul; the tests find it
# there (or at $$GATEHOUSE_OTLPRECEIVER).
OTLPRECEIVER_VERSION ?= v0.165.0
OTLPRECEIVER_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/otlpreceiver-$(OTLPRECEIVER_VERSION)
OTLPRECEIVER_BIN     ?= $(OTLPRECEIVER_CACHE)/otlpreceiver

.PHONY: otlpreceiver

## otlpreceiver: build the OpenTelemetry Collector's OTLP receiver for the tracing tests into $(OTLPRECEIVER_BIN) (skipped if present)
otlpreceiver:
	@if [ -x "$(OTLPRECEIVER_BIN)" ]; then echo "otlpreceiver: $(OTLPRECEIVER_BIN) (cached)"; else \
	  mkdir -p "$(OTLPRECEIVER_CACHE)" && \
	  echo "otlpreceiver: building the Collector's otlpreceiver $(OTLPRECEIVER_VERSION) into $(OTLPRECEIVER_BIN)" && \
	  cd test/tools/otlpreceiver && $(GO) build -o "$(OTLPRECEIVER_BIN).tmp" . && \
	  mv "$(OTLPRECEIVER_BIN).tmp" "$(OTLPRECEIVER_BIN)"; fi

## envoy-ratelimit: build envoyproxy/ratelimit for the tests into $(ENVOY_RATELIMIT_BIN) (skipped if present)
envoy-ratelimit:
	@if [ -x "$(ENVOY_RATELIMIT_BIN)" ]; then echo "envoy-ratelimit: $(ENVOY_RATELIMIT_BIN) (cached)"; else \
	  mkdir -p "$(ENVOY_RATELIMIT_CACHE)" && \
	  echo "envoy-ratelimit: building $(ENVOY_RATELIMIT_VERSION) into $(ENVOY_RATELIMIT_BIN)" && \
	  cd test/tools/ratelimit && $(GO) build -o "$(ENVOY_RATELIMIT_BIN).tmp" github.com/envoyproxy/ratelimit/src/service_cmd && \
	  mv "$(ENVOY_RATELIMIT_BIN).tmp" "$(ENVOY_RATELIMIT_BIN)"; fi

## fmt: gofmt every Go file
fmt:
	gofmt -w .

## lint: fail on unformatted files, then go vet
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed (run make fmt):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Mutation testing: gremlins (github.com/go-gremlins/gremlins), built in its
# own module under test/tools/gremlins so its dependencies never enter
# go.mod, and cached outside the repository like Consul. See docs/testing.md.
GREMLINS_VERSION ?= v0.6.0
GREMLINS_CACHE   ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gatehouse/gremlins-$(GREMLINS_VERSION)
GREMLINS_BIN     ?= $(GREMLINS_CACHE)/gremlins
MUTATE_WORKERS   ?= 2

.PHONY: gremlins mutate mutate-security

## gremlins: build the mutation-testing tool into $(GREMLINS_BIN) (skipped if present)
gremlins:
	@if [ -x "$(GREMLINS_BIN)" ]; then echo "gremlins: $(GREMLINS_BIN) (cached)"; else \
	  mkdir -p "$(GREMLINS_CACHE)" && \
	  echo "gremlins: building $(GREMLINS_VERSION) into $(GREMLINS_BIN)" && \
	  cd test/tools/gremlins && $(GO) build -o "$(GREMLINS_BIN).tmp" github.com/go-gremlins/gremlins/cmd/gremlins && \
	  mv "$(GREMLINS_BIN).tmp" "$(GREMLINS_BIN)"; fi

## mutate: every mutant of pkg/authz, pkg/ratelimit, pkg/policy, xds/translate, pkg/controller (long; not in CI)
mutate: gremlins
	GREMLINS="$(GREMLINS_BIN)" MUTATE_WORKERS=$(MUTATE_WORKERS) MUTATE_EXCLUDE='$(value MUTATE_EXCLUDE)' test/mutate/run.sh

## mutate-security: targeted mutants of the security decisions (test/mutate/security.txt); fails on a survivor (in .ci/run)
mutate-security:
	$(GO) run ./test/mutate security -workers $(MUTATE_WORKERS)

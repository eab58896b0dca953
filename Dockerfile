# Multi-stage build of the gatehouse binary into a minimal, non-root image.
#   docker build -t gatehouse .
FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so editing the source does not re-download modules.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# 18000: xDS (ADS over gRPC); 18080: admin API, /metrics, /healthz, /readyz.
EXPOSE 18000 18080
ENTRYPOINT ["/usr/local/bin/gatehouse"]
# Envoy cannot dial 0.0.0.0: the advertise addresses name this container as
# Envoy reaches it (the "gatehouse" service of docker-compose.yml); override
# them in other deployments.
CMD ["serve", "--policy-dir", "/etc/gatehouse/policy", "--xds-addr", "0.0.0.0:18000", "--authz-advertise-addr", "gatehouse:18000", "--ratelimit-advertise-addr", "gatehouse:18000", "--admin-addr", "0.0.0.0:18080"]

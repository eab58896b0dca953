package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/pkg/tracing"
)

// tracingOptions are gatehouse's own tracing (docs/tracing.md): off unless
// --otlp-endpoint is given.
type tracingOptions struct {
	endpoint string
	percent  float64
}

func (o *tracingOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.endpoint, "otlp-endpoint", "", "OpenTelemetry collector (OTLP/gRPC: host:port, http://host:port or https://host:port) for gatehouse's own spans: authz and rate-limit decisions, control-plane changes (default: no tracing)")
	f.Float64Var(&o.percent, "trace-sample-percent", 100, "share (0-100) of the traces gatehouse starts that are sampled (control-plane changes, decisions whose caller sent no trace context); a caller's sampled flag is followed")
}

// start returns the tracing, nil when off.
func (o *tracingOptions) start() (*tracing.Tracing, error) {
	if err := tracing.ValidatePercent(o.percent); err != nil {
		return nil, fmt.Errorf("--trace-sample-percent: %w", err)
	}
	t, err := tracing.New(tracing.Options{Endpoint: o.endpoint, SamplePercent: o.percent})
	if err != nil {
		return nil, fmt.Errorf("--otlp-endpoint: %w", err)
	}
	return t, nil
}

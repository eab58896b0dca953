// Package tracing is gatehouse's own OpenTelemetry tracing: the spans of
// its ext_authz and rate-limit decisions, which continue the trace of the
// request Envoy is tracing, and the trace of a control-plane change
// (store, build, publish, ACK). Spans go over OTLP/gRPC to a collector
// (--otlp-endpoint); without one every tracer is a no-op and nothing is
// extracted or recorded.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"
)

// Defaults of Options.
const (
	DefaultServiceName = "gatehouse"
	// DefaultQueueSize bounds the spans waiting for export: past it new
	// spans are dropped, so a slow or absent collector costs memory up to
	// this bound and never a decision's time.
	DefaultQueueSize = 2048
	// DefaultExportTimeout bounds one export call.
	DefaultExportTimeout = 5 * time.Second
)

// Options configure Tracing.
type Options struct {
	// Endpoint is the OTLP/gRPC collector: host:port or http://host:port
	// (plaintext), https://host:port (TLS, system roots). Empty: off.
	Endpoint string
	// SamplePercent (0-100) is the share of traces started by gatehouse
	// that are sampled: control-plane changes and decisions whose caller
	// sent no trace context. A decision whose caller sent one follows the
	// caller's sampled flag (W3C trace context), as Envoy does.
	SamplePercent float64
	// ServiceName is the resource's service.name; DefaultServiceName when "".
	ServiceName string
	// QueueSize and ExportTimeout: Default* when zero.
	QueueSize     int
	ExportTimeout time.Duration
	// BatchTimeout is the longest a span waits in the queue before an
	// export; the SDK's default (5s) when zero. Tests shorten it.
	BatchTimeout time.Duration
}

// Tracing owns the tracer provider. The zero of *Tracing (nil) is off.
type Tracing struct {
	sdk *sdktrace.TracerProvider
}

// New starts the exporter when opts.Endpoint is set; with no endpoint it
// returns nil (off), which every method accepts. The exporter connects
// lazily: a collector that is down at start is not an error, and its
// spans are dropped until it comes up.
func New(opts Options) (*Tracing, error) {
	if opts.Endpoint == "" {
		return nil, nil
	}
	if err := ValidatePercent(opts.SamplePercent); err != nil {
		return nil, err
	}
	endpoint, tlsOn, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	if opts.ServiceName == "" {
		opts.ServiceName = DefaultServiceName
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.ExportTimeout <= 0 {
		opts.ExportTimeout = DefaultExportTimeout
	}
	eo := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint), otlptracegrpc.WithTimeout(opts.ExportTimeout),
		// No retries beyond the one export: a down collector must not
		// hold spans (and memory) for minutes.
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false})}
	if tlsOn {
		eo = append(eo, otlptracegrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(nil, "")))
	} else {
		eo = append(eo, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(context.Background(), eo...)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", opts.Endpoint, err)
	}
	bo := []sdktrace.BatchSpanProcessorOption{
		sdktrace.WithMaxQueueSize(opts.QueueSize),
		sdktrace.WithExportTimeout(opts.ExportTimeout),
	}
	if opts.BatchTimeout > 0 {
		bo = append(bo, sdktrace.WithBatchTimeout(opts.BatchTimeout))
	}
	logErrors()
	res := resource.NewSchemaless(attribute.String("service.name", opts.ServiceName))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, bo...),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(Sampler(opts.SamplePercent)),
	)
	return &Tracing{sdk: tp}, nil
}

// Sampler follows a parent's sampled flag and samples percent of the
// traces that start here.
func Sampler(percent float64) sdktrace.Sampler {
	return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(percent / 100))
}

// ValidatePercent accepts 0 to 100.
func ValidatePercent(p float64) error {
	if !(p >= 0 && p <= 100) { // also refuses NaN
		return fmt.Errorf("trace sample percent %v: want 0 to 100", p)
	}
	return nil
}

// Provider is the tracer provider: a no-op one when t is nil (off).
func (t *Tracing) Provider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.sdk
}

// Shutdown exports what is queued, bounded by ctx, and stops.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// Tracer returns tp's tracer of gatehouse's instrumentation scope name,
// or nil when tp is nil: callers test for nil and skip all tracing work.
func Tracer(tp trace.TracerProvider, name string) trace.Tracer {
	if tp == nil {
		return nil
	}
	if _, off := tp.(noop.TracerProvider); off {
		return nil
	}
	return tp.Tracer(name)
}

func parseEndpoint(s string) (hostport string, tlsOn bool, err error) {
	switch {
	case strings.HasPrefix(s, "https://"):
		s, tlsOn = strings.TrimPrefix(s, "https://"), true
	case strings.HasPrefix(s, "http://"):
		s = strings.TrimPrefix(s, "http://")
	case strings.Contains(s, "://"):
		return "", false, fmt.Errorf("OTLP endpoint %q: want host:port, http://host:port or https://host:port", s)
	}
	s = strings.TrimSuffix(s, "/")
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", false, fmt.Errorf("OTLP endpoint %q: %w", s, err)
	}
	if strings.ContainsAny(s, "/?#") {
		return "", false, errors.New("OTLP endpoint " + s + ": no path, query or fragment (OTLP/gRPC)")
	}
	return s, tlsOn, nil
}

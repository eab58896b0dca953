// Command otlpreceiver is the OpenTelemetry Collector's own OTLP receiver
// (go.opentelemetry.io/collector/receiver/otlpreceiver) listening on gRPC,
// writing every batch of spans it receives as one line of OTLP/JSON
// (the Collector's ptrace.JSONMarshaler, the encoding of OTLP/HTTP JSON) on
// stdout: the real receiver the tracing tests export to. It lives in its
// own module so that the Collector's dependencies never enter gatehouse's
// go.mod.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

func main() {
	addr := flag.String("grpc", "127.0.0.1:4317", "gRPC listen address")
	flag.Parse()

	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	var marshal ptrace.JSONMarshaler
	consume := func(_ context.Context, td ptrace.Traces) error {
		b, err := marshal.MarshalTraces(td)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		out.Write(b)
		out.WriteByte('\n')
		// Flushed per batch: the tests read lines as they come.
		return out.Flush()
	}
	next, err := consumer.NewTraces(consume)
	if err != nil {
		fatal(err)
	}

	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	g := configgrpc.NewDefaultServerConfig()
	g.NetAddr.Endpoint = *addr
	cfg.Protocols.GRPC = configoptional.Some(g)
	cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
	r, err := f.CreateTraces(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, next)
	if err != nil {
		fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		fatal(err)
	}
	fmt.Fprintf(os.Stderr, "otlpreceiver: listening on %s\n", *addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = r.Shutdown(context.Background())
	mu.Lock()
	_ = out.Flush()
	mu.Unlock()
}

var _ component.Config = (*otlpreceiver.Config)(nil)

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "otlpreceiver:", err)
	os.Exit(1)
}

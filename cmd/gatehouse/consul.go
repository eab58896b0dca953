package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/oidc"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/consul"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/dns"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/kubernetes"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// consulAddr is the agent address: --consul-addr, else CONSUL_HTTP_ADDR,
// else the local agent. Consul is only contacted once a Service uses
// `discovery.consul`.
func consulAddr(flag string) string {
	if flag != "" {
		return flag
	}
	if env := os.Getenv("CONSUL_HTTP_ADDR"); env != "" {
		return env
	}
	return "127.0.0.1:8500"
}

// consulToken reads --consul-token-file, else CONSUL_HTTP_TOKEN.
func consulToken(file string) (string, error) {
	if file == "" {
		return os.Getenv("CONSUL_HTTP_TOKEN"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--consul-token-file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// newConsulSource wires the Consul source into the controller: it receives
// every loaded policy (to know what to watch) and reports endpoints back.
func newConsulSource(addrFlag, tokenFile string, ctrl **controller.Controller) (*consul.Source, error) {
	token, err := consulToken(tokenFile)
	if err != nil {
		return nil, err
	}
	return consul.New(consul.Config{
		Address:  consulAddr(addrFlag),
		Token:    token,
		OnUpdate: func(s registry.Snapshot) { (*ctrl).SetEndpoints("consul", s) },
	})
}

// consulStatus is the Consul part of /api/v1/status (nil when no Service
// uses Consul).
func consulStatus(src *consul.Source) *consul.Status {
	if src == nil || src.Watching() == 0 {
		return nil
	}
	st := src.Status()
	return &st
}

// logConsul logs changes of the Consul source's reachability and errors
// (the library does not log), at most once a second.
func logConsul(ctx context.Context, src *consul.Source, log *slog.Logger) {
	logSource(ctx, src, log, sourceLog{
		what: "consul",
		state: func() (string, bool, bool, []any) {
			st := src.Status()
			return st.LastError, st.Reachable, st.Synced, []any{"address", st.Address}
		},
		synced: func() (string, []any) {
			return "consul: every referenced service read", []any{"services", len(src.Status().Services)}
		},
	})
}

// sourceLog is what logSource needs of a discovery source: its name in
// messages, its state (last error, reachable, synced, and the attributes
// naming its backend) and the line that says it has synced.
type sourceLog struct {
	what   string
	state  func() (lastErr string, reachable, synced bool, where []any)
	synced func() (msg string, attrs []any)
}

// logSource logs changes of a discovery source's reachability and errors,
// at most once a second, while the source is in use.
func logSource(ctx context.Context, src registry.Source, log *slog.Logger, l sourceLog) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastErr string
	reachable, synced := true, false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if src.Watching() == 0 {
			continue
		}
		err, up, ok, where := l.state()
		if err != lastErr && err != "" {
			log.Error(src.Name(), append([]any{"err", err}, append(where, "reachable", up)...)...)
		}
		lastErr = err
		if up != reachable {
			if up {
				log.Info(l.what+" reachable again", where...)
			} else {
				log.Warn(l.what+" unreachable: serving the last known endpoints", where...)
			}
			reachable = up
		}
		if ok && !synced {
			msg, attrs := l.synced()
			log.Info(msg, attrs...)
		}
		synced = ok
	}
}

// registryUp is gatehouse_registry_up{source=...}: per discovery source, 1
// when its backend answers, 0 when not; absent while no Service uses it.
type registryUp struct {
	srcs []registry.Source
	desc *prometheus.Desc
}

func newRegistryUp(srcs ...registry.Source) *registryUp {
	return &registryUp{srcs: srcs, desc: prometheus.NewDesc("gatehouse_registry_up",
		"Whether the service registry answered its last requests (1) or not (0); the last known endpoints keep being served.", []string{"source"}, nil)}
}

func (r *registryUp) Describe(ch chan<- *prometheus.Desc) { ch <- r.desc }

func (r *registryUp) Collect(ch chan<- prometheus.Metric) {
	for _, src := range r.srcs {
		if src.Watching() == 0 {
			continue
		}
		v := 0.0
		if src.Up() {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(r.desc, prometheus.GaugeValue, v, src.Name())
	}
}

// serverStatus is /api/v1/status: the controller's state plus the policy
// store's and Consul discovery's.
type serverStatus struct {
	controller.Status
	Store  *store.HealthStatus `json:"store,omitempty"`
	Consul *consul.Status      `json:"consul,omitempty"`
	Kube   *kubernetes.Status  `json:"kubernetes,omitempty"`
	DNS    *dns.Status         `json:"dns,omitempty"`
	// Registries is every discovery source in use, one line each.
	Registries []registryHealth `json:"registries,omitempty"`
	// OIDC is the OpenID Connect discovery of every issuer named without
	// a JWKS.
	OIDC []oidc.IssuerStatus `json:"oidc,omitempty"`
}

// printConsul is the Consul section of `gatehouse status`.
func printConsul(w io.Writer, st *consul.Status, now time.Time) {
	if st == nil {
		return
	}
	state := "reachable"
	if !st.Reachable {
		state = "UNREACHABLE (serving the last known endpoints)"
	}
	fmt.Fprintf(w, "Consul %s: %s", st.Address, state)
	if !st.Reachable && !st.LastContact.IsZero() {
		// While reachable a blocking query may be open for a minute, so the
		// time of the last answer says nothing; during an outage it does.
		fmt.Fprintf(w, "; last answer %s ago", now.Sub(st.LastContact).Round(time.Second))
	}
	fmt.Fprintln(w)
	if st.LastError != "" {
		fmt.Fprintf(w, "  last error (%s ago): %s\n", now.Sub(st.LastErrorAt).Round(time.Second), st.LastError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tCONSUL SERVICE\tTAGS\tDC\tINSTANCES\tSTATE")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", s.Name, s.ConsulService, orNone(strings.Join(s.Tags, ",")), orNone(s.Datacenter), s.Instances, s.State)
	}
	tw.Flush()
}

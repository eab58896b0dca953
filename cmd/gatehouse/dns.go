package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/dns"
)

// newDNSSource wires the DNS source (proxyless gRPC clients' view of
// discovery.dns Services; Envoy resolves on its own) into the controller.
// servers are --dns-server values: host or host:port (port 53).
func newDNSSource(servers []string, ctrl **controller.Controller) (*dns.Source, error) {
	var addrs []string
	for _, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(strings.Trim(s, "[]"), "53")
		}
		if _, _, err := net.SplitHostPort(s); err != nil {
			return nil, fmt.Errorf("--dns-server %q: %w", s, err)
		}
		addrs = append(addrs, s)
	}
	return dns.New(dns.Config{
		Servers:  addrs,
		OnUpdate: func(s registry.Snapshot) { (*ctrl).SetEndpoints("dns", s) },
	}), nil
}

// dnsStatus is the DNS part of /api/v1/status (nil when no Service uses
// DNS).
func dnsStatus(src *dns.Source) *dns.Status {
	if src == nil || src.Watching() == 0 {
		return nil
	}
	st := src.Status()
	return &st
}

// logDNS logs changes of the DNS servers' reachability and errors, at most
// once a second.
func logDNS(ctx context.Context, src *dns.Source, log *slog.Logger) {
	logSource(ctx, src, log, sourceLog{
		what: "DNS server",
		state: func() (string, bool, bool, []any) {
			st := src.Status()
			return st.LastError, st.Reachable, st.Synced, []any{"servers", strings.Join(st.Servers, ",")}
		},
		synced: func() (string, []any) {
			return "dns: every referenced name resolved", []any{"services", len(src.Status().Services)}
		},
	})
}

// printDNS is the DNS section of `gatehouse status`.
func printDNS(w io.Writer, st *dns.Status, now time.Time) {
	if st == nil {
		return
	}
	state := "answering"
	if !st.Reachable {
		state = "FAILING (serving the last known addresses)"
	}
	fmt.Fprintf(w, "DNS %s: %s", orNone(strings.Join(st.Servers, ", ")), state)
	if !st.Synced {
		fmt.Fprint(w, "; NOT SYNCED (first configuration held back)")
	}
	fmt.Fprintln(w)
	if st.LastError != "" {
		fmt.Fprintf(w, "  last error (%s ago): %s\n", now.Sub(st.LastErrorAt).Round(time.Second), st.LastError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tNAME\tPORT\tTYPE\tFAMILY\tENDPOINTS\tTTL\tSTATE")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%d\t%s\t%s\n", s.Name, s.Host, s.Port, s.Type, s.Family, s.Endpoints, orNone(s.TTL), s.State)
	}
	tw.Flush()
}

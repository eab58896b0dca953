package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/eureka"
)

// eurekaOptions are the Eureka servers for discovery.eureka Services
// (issue 17), contacted only when a Service uses Eureka.
type eurekaOptions struct {
	urls            []string
	credentialsFile string
	pollInterval    time.Duration
}

func (o *eurekaOptions) addFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.urls, "eureka-url", nil, "Eureka service URL for discovery.eureka Services, repeatable or comma-separated, tried in order for failover (default "+eureka.DefaultServer+"; contacted only when a Service uses Eureka)")
	f.StringVar(&o.credentialsFile, "eureka-credentials-file", "", "file holding user:password for HTTP basic auth to the Eureka servers (default $"+eureka.CredentialsEnv+")")
	f.DurationVar(&o.pollInterval, "eureka-poll-interval", 30*time.Second, "how often the Eureka registry delta is fetched")
}

// newEurekaSource checks the flags and wires the Eureka source into the
// controller.
func newEurekaSource(o eurekaOptions, ctrl **controller.Controller) (*eureka.Source, error) {
	servers, err := eureka.ParseServers(o.urls)
	if err != nil {
		return nil, fmt.Errorf("--eureka-url: %w", err)
	}
	user, pass, err := eureka.Credentials(o.credentialsFile)
	if err != nil {
		return nil, err
	}
	if o.pollInterval < 100*time.Millisecond {
		return nil, fmt.Errorf("--eureka-poll-interval %v: at least 100ms", o.pollInterval)
	}
	return eureka.New(eureka.Config{
		Servers: servers, Username: user, Password: pass, PollInterval: o.pollInterval,
		OnUpdate: func(s registry.Snapshot) { (*ctrl).SetEndpoints("eureka", s) },
	}), nil
}

// eurekaStatus is the Eureka part of /api/v1/status (nil when no Service
// uses Eureka).
func eurekaStatus(src *eureka.Source) *eureka.Status {
	if src == nil || src.Watching() == 0 {
		return nil
	}
	st := src.Status()
	return &st
}

// logEureka logs changes of the Eureka servers' reachability and errors.
func logEureka(ctx context.Context, src *eureka.Source, log *slog.Logger) {
	logSource(ctx, src, log, sourceLog{
		what: "eureka",
		state: func() (string, bool, bool, []any) {
			st := src.Status()
			return st.LastError, st.Reachable, st.Synced, []any{"server", st.Server}
		},
		synced: func() (string, []any) {
			st := src.Status()
			return "eureka: registry read", []any{"server", st.Server, "instances", st.Instances, "services", len(st.Services)}
		},
	})
}

// printEureka is the Eureka section of `gatehouse status`.
func printEureka(w io.Writer, st *eureka.Status, now time.Time) {
	if st == nil {
		return
	}
	state := "reachable"
	if !st.Reachable {
		state = "UNREACHABLE (serving the last known endpoints)"
	}
	fmt.Fprintf(w, "Eureka %s (of %d): %s", st.Server, len(st.Servers), state)
	if !st.Reachable && !st.LastContact.IsZero() {
		fmt.Fprintf(w, "; last answer %s ago", now.Sub(st.LastContact).Round(time.Second))
	}
	if !st.Synced {
		fmt.Fprint(w, "; NOT SYNCED (first configuration held back)")
	}
	fmt.Fprintf(w, "; %d instances, hash %s; fetches: %d full, %d delta, %d hash mismatches, %d failovers\n",
		st.Instances, orNone(st.HashCode), st.Fetches.Full, st.Fetches.Delta, st.Fetches.HashMismatches, st.Fetches.Failovers)
	if st.LastError != "" {
		fmt.Fprintf(w, "  last error (%s ago): %s\n", now.Sub(st.LastErrorAt).Round(time.Second), st.LastError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tAPP\tVIP\tPORT\tINSTANCES\tENDPOINTS\tNOT UP\tSTATE")
	for _, s := range st.Services {
		var notUp []string
		for k, v := range s.NotUp {
			notUp = append(notUp, fmt.Sprintf("%s:%d", k, v))
		}
		sort.Strings(notUp)
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", s.Name, s.App, orNone(s.VIP), s.Port, s.Instances, s.Endpoints, orNone(strings.Join(notUp, ",")), s.State)
	}
	tw.Flush()
}

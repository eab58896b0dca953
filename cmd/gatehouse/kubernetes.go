package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/controller"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/kubernetes"
)

// newKubeSource wires the Kubernetes source into the controller. The
// kubeconfig is read (and the API server contacted) only once a Service
// uses `discovery.kubernetes`.
func newKubeSource(kubeconfig, serviceAccountDir string, allNamespaces bool, ctrl **controller.Controller) *kubernetes.Source {
	return kubernetes.New(kubernetes.Config{
		Kubeconfig:        kubeconfig,
		ServiceAccountDir: serviceAccountDir,
		AllNamespaces:     allNamespaces,
		OnUpdate:          func(s registry.Snapshot) { (*ctrl).SetEndpoints("kubernetes", s) },
	})
}

// kubeStatus is the Kubernetes part of /api/v1/status (nil when no Service
// uses Kubernetes).
func kubeStatus(src *kubernetes.Source) *kubernetes.Status {
	if src == nil || src.Watching() == 0 {
		return nil
	}
	st := src.Status()
	return &st
}

// logKube logs changes of the Kubernetes source's reachability and errors
// (client-go's own reflector errors go to its klog output), at most once a
// second.
func logKube(ctx context.Context, src *kubernetes.Source, log *slog.Logger) {
	logSource(ctx, src, log, sourceLog{
		what: "kubernetes API server",
		state: func() (string, bool, bool, []any) {
			st := src.Status()
			return st.LastError, st.Reachable, st.Synced, []any{"api_server", st.APIServer}
		},
		synced: func() (string, []any) {
			st := src.Status()
			return "kubernetes: every referenced namespace listed", []any{"services", len(st.Services), "namespaces", strings.Join(st.Namespaces, ",")}
		},
	})
}

// printKube is the Kubernetes section of `gatehouse status`.
func printKube(w io.Writer, st *kubernetes.Status, now time.Time) {
	if st == nil {
		return
	}
	state := "reachable"
	if !st.Reachable {
		state = "UNREACHABLE (serving the last known endpoints)"
	}
	fmt.Fprintf(w, "Kubernetes %s (%s): %s", orNone(st.APIServer), st.Config, state)
	if !st.Reachable && !st.LastContact.IsZero() {
		fmt.Fprintf(w, "; last answer %s ago", now.Sub(st.LastContact).Round(time.Second))
	}
	if !st.Synced {
		fmt.Fprint(w, "; NOT SYNCED (first configuration held back)")
	}
	fmt.Fprintln(w)
	if st.LastError != "" {
		fmt.Fprintf(w, "  last error (%s ago): %s\n", now.Sub(st.LastErrorAt).Round(time.Second), st.LastError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVICE\tNAMESPACE/SERVICE\tPORT\tENDPOINTS\tDRAINING\tNOT READY\tSLICES\tSTATE")
	for _, s := range st.Services {
		fmt.Fprintf(tw, "  %s\t%s/%s\t%s\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Namespace, s.KubeService, orNone(s.Port), s.Endpoints, s.Draining, s.NotReady, s.Slices, s.State)
	}
	tw.Flush()
}

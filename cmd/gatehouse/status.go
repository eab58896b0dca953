package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
	"github.com/gatehouse-dev/gatehouse/xds/server"
)

func init() { addVerb(newStatusCmd) }

// statusTypes is the column order of the proxy table (ADS order).
var statusTypes = []string{"clusters", "endpoints", "listeners", "routes", "secrets"}

func newStatusCmd() *cobra.Command {
	var (
		remote     remoteFlags
		output     string
		statusKind string
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every connected proxy's sync state, NACKs and the status of every policy object",
		Long: `Show the state of a running gatehouse server (from its admin API).

For every connected proxy (Envoy or proxyless gRPC client): its node id, Gateway,
client kind, and per resource type the version sent and whether the proxy
acknowledged it ("ok"), is still applying it ("sent"), or rejected it ("NACK", with
Envoy's error text below the table). Then the control plane's own state: whether
the first build is done, the last build error (the last good configuration is still
being served when there is one), which protected Routes proxyless gRPC clients do not
get (or get without their protections) and why, and every rejected policy object with
its reasons. Then the Routes whose version is deprecated (spec.version.deprecation
has passed) that still received requests in the usage analytics' window, most
requests first, with their sunset and successor.

Last, every stored policy object with two conditions: ACCEPTED (it validates)
and PROGRAMMED (its configuration is served to the proxies of the Gateways it
reaches and none of them rejects it; a NACK is mapped back to the objects that
produced the rejected resources), each with its reason. --kind narrows it.

Versions are content hashes, shortened to 8 characters.

` + exitCodesHelp,
		Example: `  gatehouse status
  gatehouse status --kind route
  gatehouse status --server 10.0.0.5:18080 --output json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", output)}
			}
			c, err := remote.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var st serverStatus
			if err := c.Status(ctx, &st); err != nil {
				return err
			}
			proxies, err := c.Proxies(ctx)
			if err != nil {
				return err
			}
			objects, err := c.ObjectStatus(ctx, statusKind, "")
			var ae *client.APIError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound && statusKind == "" {
				objects, err = nil, nil // a server without the policy store API
			}
			// The object status reads the policy store; when the store is
			// down the control plane's status is what matters most, so it
			// is printed anyway and the error (exit 3) follows it.
			objErr := err
			deprecated, rep, usageErr := deprecatedStatus(ctx, c, time.Now())
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				doc := map[string]any{"control_plane": st, "proxies": proxies, "objects": objects, "deprecated_routes": deprecated}
				if usageErr != nil {
					doc["deprecated_routes_error"] = usageErr.Error()
				}
				if objErr != nil {
					doc["objects_error"] = objErr.Error()
				}
				if err := enc.Encode(doc); err != nil {
					return err
				}
				return objErr
			}
			printStatus(out, st, proxies, time.Now())
			printDeprecated(out, deprecated, rep, usageErr, time.Now())
			if objErr != nil {
				fmt.Fprintf(out, "\nPolicy objects: cannot be listed now: %v\n", objErr)
				return objErr
			}
			if objects != nil {
				printObjectStatus(out, objects)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.Flags().StringVar(&statusKind, "kind", "", "only objects of this kind")
	remote.add(cmd.Flags())
	return cmd
}

// printObjectStatus prints one row per object, then the reason of every
// condition that is not met.
func printObjectStatus(w io.Writer, list *api.StatusList) {
	fmt.Fprintf(w, "\nPolicy objects (%d, revision %s):\n", len(list.Items), list.Revision)
	if len(list.Items) == 0 {
		return
	}
	rows := make([][]string, len(list.Items))
	var why []string
	for i, o := range list.Items {
		row := []string{o.Kind, o.Name, orDash(strings.Join(o.Gateways, ","))}
		for _, c := range o.Conditions {
			row = append(row, yesNo(c.Status))
			if !c.Status {
				why = append(why, fmt.Sprintf("  %s/%s not %s: %s", o.Kind, o.Name, c.Type, c.Reason))
			}
		}
		rows[i] = row
	}
	printTable(w, []string{"KIND", "NAME", "GATEWAYS", "ACCEPTED", "PROGRAMMED"}, rows)
	for _, l := range why {
		fmt.Fprintln(w, l)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printStatus(w io.Writer, full serverStatus, proxies []server.ProxyStatus, now time.Time) {
	st := full.Status
	state := "not ready (no complete configuration built yet)"
	if st.WaitingFor != "" && !st.Ready {
		state = "not ready: waiting for " + st.WaitingFor
	}
	if st.Ready {
		state = fmt.Sprintf("ready; last build %s ago, took %v", now.Sub(st.LastBuild).Round(time.Second), st.LastBuildDuration.Round(time.Microsecond))
	}
	fmt.Fprintf(w, "Control plane: %s\n", state)
	fmt.Fprintf(w, "Gateways: %s\n", orNone(strings.Join(st.Gateways, ", ")))
	if st.LastError != "" {
		fmt.Fprintf(w, "Last build FAILED (still serving the last good configuration): %s\n", st.LastError)
	}
	printHeld(w, st.Held)

	printStore(w, full.Store, now)
	printRegistries(w, full.Registries)
	printConsul(w, full.Consul, now)
	printKube(w, full.Kube, now)
	printDNS(w, full.DNS, now)
	printOIDC(w, full.OIDC, now)

	fmt.Fprintf(w, "\nProxies (%d):\n", len(proxies))
	if len(proxies) > 0 {
		header := []string{"NODE", "GATEWAY", "CLIENT", "XDS", "CONNECTED"}
		for _, t := range statusTypes {
			header = append(header, strings.ToUpper(t))
		}
		rows := make([][]string, len(proxies))
		for i, p := range proxies {
			rows[i] = []string{p.NodeID, p.Gateway, p.Client, p.Protocol, now.Sub(p.ConnectedSince).Round(time.Second).String()}
			for _, t := range statusTypes {
				rows[i] = append(rows[i], typeCell(p.Types[t]))
			}
		}
		printTable(w, header, rows)
	}
	for _, p := range proxies {
		if p.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", p.NodeID, p.Note)
		}
		if p.Warning != "" {
			fmt.Fprintf(w, "  %s: %s\n", p.NodeID, p.Warning)
		}
		for _, t := range statusTypes {
			if n := p.Types[t].NACK; n != nil {
				fmt.Fprintf(w, "  NACK %s %s version %s (%d on this stream)%s: %s\n", p.NodeID, t, short(n.Version), p.Types[t].NACKs, nackedResources(n.Resources), n.Error)
			}
		}
	}

	if len(st.Proxyless) > 0 {
		fmt.Fprintf(w, "\nProtected routes and proxyless gRPC clients (%d):\n", len(st.Proxyless))
		for _, n := range st.Proxyless {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}

	fmt.Fprintf(w, "\nRejected policy objects (%d):\n", len(st.Rejected))
	for _, r := range st.Rejected {
		note := "not served"
		if r.CarriedOver {
			note = "its last good version is still served"
		}
		fmt.Fprintf(w, "  %s (%s:%d; %s)\n", r.Ref, r.File, r.Line, note)
		for _, e := range r.Errors {
			fmt.Fprintf(w, "    %s\n", e)
		}
	}
}

// printHeld lists the Gateways whose configuration is held back
// (policy.Snapshot.Held) and what to do.
func printHeld(w io.Writer, held map[string][]string) {
	gws := make([]string, 0, len(held))
	for gw := range held {
		gws = append(gws, gw)
	}
	sort.Strings(gws)
	for _, gw := range gws {
		fmt.Fprintf(w, "Gateway %s HELD BACK: it keeps its last good configuration (none since this server started) until these Routes resolve or are removed:\n", gw)
		for _, why := range held[gw] {
			fmt.Fprintf(w, "  %s\n", why)
		}
	}
}

// nackedResources names the resources of a rejected delta response.
func nackedResources(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " rejecting " + strings.Join(names, ", ")
}

// typeCell is one resource type's state on one proxy: short version and
// whether it was acknowledged.
func typeCell(t server.TypeStatus) string {
	switch {
	case t.Sent == "" && t.Acked == "":
		return "-"
	case t.NACK != nil && t.Acked != t.Sent:
		return short(t.Sent) + " NACK"
	case t.Acked == t.Sent:
		return short(t.Sent) + " ok"
	default:
		return short(t.Sent) + " sent"
	}
}

func short(v string) string {
	if len(v) > 8 {
		return v[:8]
	}
	if v == "" {
		return "-"
	}
	return v
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

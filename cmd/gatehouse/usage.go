package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/usage"
)

func init() { addVerb(newUsageCmd) }

func newUsageCmd() *cobra.Command {
	var (
		remote           remoteFlags
		output, consumer string
		since            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "usage",
		Short: "Show API usage per gateway, route, consumer and plan (from Envoy's access log)",
		Long: `Show API usage from a running gatehouse server (its admin API, /api/v1/usage).

Envoy sends every request's access-log entry to gatehouse's gRPC access-log service
(see "Usage analytics" in the README for the Envoy configuration); gatehouse counts
requests, 4xx and 5xx responses and latency per gateway, route, service, consumer and
the consumer's plan. The server keeps the last --usage-window (1h by default) in
one-minute buckets; older usage is in Prometheus (gatehouse_usage_* series). Beyond
--usage-max-consumers consumers per gateway, and beyond the route and store limits,
usage is counted under "_other".

` + exitCodesHelp,
		Example: `  gatehouse usage
  gatehouse usage --consumer acme --since 15m
  gatehouse usage --server 10.0.0.5:18080 -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", output)}
			}
			if since < 0 {
				return usageError{fmt.Errorf("--since %v: must not be negative", since)}
			}
			c, err := remote.client()
			if err != nil {
				return err
			}
			var rep usage.Report
			if err := c.Usage(cmd.Context(), consumer, since, &rep); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printUsage(out, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&consumer, "consumer", "", "only this consumer (default: every consumer)")
	f.DurationVar(&since, "since", 0, "only the last D, e.g. 15m (default: the server's whole --usage-window)")
	f.StringVarP(&output, "output", "o", "table", "output format: table or json")
	remote.add(f)
	return cmd
}

func printUsage(w io.Writer, rep usage.Report) {
	fmt.Fprintf(w, "usage from %s to %s\n", rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	if len(rep.Rows) == 0 {
		fmt.Fprintln(w, "no requests logged (is Envoy's access log pointed at gatehouse? see the README, Usage analytics)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tROUTE\tSERVICE\tCONSUMER\tPLAN\tREQUESTS\t4XX\t5XX\tAVG MS\tMAX MS")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%.1f\n", r.Gateway, dash(r.Route), dash(r.Service), dash(r.Consumer), dash(r.Plan),
			r.Requests, r.Errors4xx, r.Errors5xx, r.LatencyAvgMs, r.LatencyMaxMs)
	}
	tw.Flush()
}

// Command promql-check parses PromQL expressions with the Prometheus parser
// and prints, for each, the metric names its selectors use. The monitoring
// tests run it on every expression of the dashboards and alert rules. It
// lives in its own module so that Prometheus's dependencies never enter
// gatehouse's go.mod; build it with `make promql-check` (cached outside the
// repository).
//
// Input (stdin): a JSON array of {"where": "...", "expr": "..."}.
// Output (stdout): a JSON array of {"where", "error", "metrics"}, same order.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type input struct {
	Where string `json:"where"`
	Expr  string `json:"expr"`
}

type output struct {
	Where   string   `json:"where"`
	Error   string   `json:"error,omitempty"`
	Metrics []string `json:"metrics"`
}

func main() {
	var in []input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "promql-check: reading the expressions (a JSON array of {where, expr}):", err)
		os.Exit(2)
	}
	out := make([]output, 0, len(in))
	for _, e := range in {
		out = append(out, check(e))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "promql-check:", err)
		os.Exit(2)
	}
}

func check(e input) output {
	o := output{Where: e.Where, Metrics: []string{}}
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(e.Expr)
	if err != nil {
		o.Error = err.Error()
		return o
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			o.Error = "a selector without a metric name: " + vs.String()
			return nil
		}
		if !slices.Contains(o.Metrics, name) {
			o.Metrics = append(o.Metrics, name)
		}
		return nil
	})
	slices.Sort(o.Metrics)
	return o
}

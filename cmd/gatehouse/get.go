package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

func init() { addVerb(newGetCmd) }

func newGetCmd() *cobra.Command {
	var (
		remote  remoteFlags
		output  string
		labels  []string
		gateway string
	)
	cmd := &cobra.Command{
		Use:   "get KIND|all [NAME]",
		Short: "List policy objects on a server, or show one",
		Long: `List the policy objects a server stores, or show one. KIND is any case,
singular or plural (route, Routes), or "all". -o yaml prints objects that
"gatehouse apply -f -" takes back; -o json prints a JSON array (one object
for KIND NAME).

` + exitCodesHelp,
		Example: `  gatehouse get routes
  gatehouse get route user-info -o yaml
  gatehouse get all --gateway public -l team=users`,
		Args: usageArgs(cobra.RangeArgs(1, 2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "table" && output != "yaml" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table, yaml or json", output)}
			}
			c, err := remote.client()
			if err != nil {
				return err
			}
			var list *api.ObjectList
			if len(args) == 2 {
				list, err = c.Get(cmd.Context(), args[0], args[1])
			} else {
				kind := args[0]
				if strings.EqualFold(kind, "all") {
					kind = ""
				}
				list, err = c.List(cmd.Context(), client.ListOptions{Kind: kind, Labels: labels, Gateway: gateway})
			}
			if err != nil {
				return err
			}
			return printObjects(cmd.OutOrStdout(), list, output, len(args) == 2)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table, yaml or json")
	cmd.Flags().StringArrayVarP(&labels, "selector", "l", nil, "only objects with this label, KEY=VALUE; repeatable (all must match)")
	cmd.Flags().StringVar(&gateway, "gateway", "", "only objects that reach this Gateway's proxies")
	remote.add(cmd.Flags())
	return cmd
}

func printObjects(w io.Writer, list *api.ObjectList, output string, one bool) error {
	switch output {
	case "json":
		objs := make([]json.RawMessage, len(list.Items))
		for i, o := range list.Items {
			objs[i] = o.Object
		}
		var v any = objs
		if one && len(objs) == 1 {
			v = objs[0]
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		for i, o := range list.Items {
			// JSON is YAML: the object layer turns it into block YAML with
			// the fields in their order.
			objs, err := store.ParseObjects(o.Object)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", o.Kind, o.Name, err)
			}
			text, err := store.Encode(objs[0].Doc)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", o.Kind, o.Name, err)
			}
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			fmt.Fprint(w, text)
		}
		return nil
	}
	if len(list.Items) == 0 {
		fmt.Fprintf(w, "no objects (revision %s)\n", list.Revision)
		return nil
	}
	rows := make([][]string, len(list.Items))
	for i, o := range list.Items {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
			ls = append(ls, k+"="+o.Labels[k])
		}
		rows[i] = []string{o.Kind, o.Name, orDash(summary(o)), orDash(strings.Join(ls, ",")), fmt.Sprintf("%s:%d", o.File, o.Line)}
	}
	printTable(w, []string{"KIND", "NAME", "SUMMARY", "LABELS", "FILE"}, rows)
	return nil
}

// summary is the gist of an object for the table: a Gateway's listeners, a
// Route's hosts, path and backends, where a Service's endpoints come from.
func summary(o api.Object) string {
	var v struct {
		Spec struct {
			Listeners []struct {
				Name string `json:"name"`
				Port int    `json:"port"`
			} `json:"listeners"`
			Hosts []string `json:"hosts"`
			Match struct {
				Path map[string]string `json:"path"`
			} `json:"match"`
			Backends []struct {
				Service string `json:"service"`
			} `json:"backends"`
			Redirect *struct {
				Code int `json:"code"`
			} `json:"redirect"`
			DirectResponse *struct {
				Status int `json:"status"`
			} `json:"directResponse"`
			Discovery struct {
				Consul *struct {
					Service string `json:"service"`
				} `json:"consul"`
				Eureka *struct {
					App string `json:"app"`
				} `json:"eureka"`
				Kubernetes *struct {
					Service   string `json:"service"`
					Namespace string `json:"namespace"`
				} `json:"kubernetes"`
				Static []any `json:"static"`
			} `json:"discovery"`
		} `json:"spec"`
	}
	if json.Unmarshal(o.Object, &v) != nil {
		return ""
	}
	var parts []string
	switch o.Kind {
	case "Gateway":
		for _, l := range v.Spec.Listeners {
			parts = append(parts, fmt.Sprintf("%s:%d", l.Name, l.Port))
		}
	case "Route":
		hosts := v.Spec.Hosts
		if len(hosts) == 0 {
			hosts = []string{"*"}
		}
		parts = append(parts, strings.Join(hosts, ","))
		for k, p := range v.Spec.Match.Path {
			parts = append(parts, k+" "+p)
		}
		switch {
		case v.Spec.Redirect != nil:
			code := v.Spec.Redirect.Code
			if code == 0 {
				code = 301
			}
			parts = append(parts, fmt.Sprintf("redirect %d", code))
		case v.Spec.DirectResponse != nil:
			parts = append(parts, fmt.Sprintf("answers %d", v.Spec.DirectResponse.Status))
		default:
			var to []string
			for _, b := range v.Spec.Backends {
				to = append(to, b.Service)
			}
			parts = append(parts, "-> "+strings.Join(to, ","))
		}
	case "Service":
		switch {
		case v.Spec.Discovery.Consul != nil:
			parts = append(parts, "consul "+v.Spec.Discovery.Consul.Service)
		case v.Spec.Discovery.Eureka != nil:
			parts = append(parts, "eureka "+v.Spec.Discovery.Eureka.App)
		case v.Spec.Discovery.Kubernetes != nil:
			k := v.Spec.Discovery.Kubernetes
			ns := k.Namespace
			if ns == "" {
				ns = "default"
			}
			parts = append(parts, "kubernetes "+ns+"/"+k.Service)
		case len(v.Spec.Discovery.Static) > 0:
			parts = append(parts, plural(len(v.Spec.Discovery.Static), "static endpoint", "static endpoints"))
		}
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

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
		rows[i] = []string{o.Kind, o.Name, orDash(strings.Join(ls, ",")), fmt.Sprintf("%s:%d", o.File, o.Line)}
	}
	printTable(w, []string{"KIND", "NAME", "LABELS", "FILE"}, rows)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

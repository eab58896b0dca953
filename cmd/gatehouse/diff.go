package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
	"github.com/gatehouse-dev/gatehouse/pkg/explain"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
	"github.com/gatehouse-dev/gatehouse/pkg/textdiff"
)

func init() { addVerb(newDiffCmd) }

func newDiffCmd() *cobra.Command {
	var (
		remote remoteFlags
		files  []string
	)
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR|-",
		Short: "Show what applying objects would change, without changing anything",
		Long: `Show, as a unified diff per object, what "gatehouse apply" with the same
objects would change on the server (a dry run: nothing is stored). The
server validates the result the same way; an apply that would be refused
exits 1 here too. Objects are compared by content: a different layout or
comments alone are no change. When the server computes it, the change of
the Envoy resources per Gateway follows the object diff.

` + exitCodesHelp,
		Example: `  gatehouse diff -f routes.yaml
  gatehouse diff -f policies/`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := readInputs(cmd.InOrStdin(), files)
			if err != nil {
				return err
			}
			c, err := remote.client()
			if err != nil {
				return err
			}
			res, err := c.Apply(cmd.Context(), body, client.WriteOptions{DryRun: true})
			if err != nil {
				return err
			}
			printDiff(cmd.OutOrStdout(), res)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory or - (standard input) holding the objects; repeatable")
	remote.add(cmd.Flags())
	return cmd
}

func printDiff(w io.Writer, res *api.ApplyResult) {
	changed := 0
	for _, o := range res.Objects {
		if o.Action == store.ActionUnchanged {
			continue
		}
		changed++
		from, to := o.Ref.String()+" (revision "+res.Revision+")", o.Ref.String()+" ("+o.Action+")"
		fmt.Fprint(w, textdiff.Unified(from, to, o.Before, o.After))
	}
	if changed == 0 {
		fmt.Fprintf(w, "no changes: the server already has these objects (revision %s)\n", res.Revision)
	}
	if len(res.Envoy) > 0 {
		var cs []explain.Change
		if err := json.Unmarshal(res.Envoy, &cs); err != nil {
			// A server that speaks another format: show what it sent.
			fmt.Fprintf(w, "\nEnvoy resources per Gateway:\n%s\n", res.Envoy)
			return
		}
		fmt.Fprintf(w, "\nEnvoy resources per Gateway (%s):\n", explain.Summary(cs))
		explain.WriteDiffText(w, cs)
	}
}

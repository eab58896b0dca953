package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func init() { addVerb(newHistoryCmd) }

func newHistoryCmd() *cobra.Command {
	var (
		remote remoteFlags
		limit  int
		output string
	)
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the revisions of the policy on a server: who, when, what changed",
		Long: `List the revisions of the server's policy store, newest first: the
revision id (for "gatehouse rollback" and --base-revision), when, who (as
the client said), the message and the files it changed.

` + exitCodesHelp,
		Example: `  gatehouse history
  gatehouse history --limit 5 -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "table" && output != "json" {
				return usageError{fmt.Errorf("--output %q: want table or json", output)}
			}
			c, err := remote.client()
			if err != nil {
				return err
			}
			h, err := c.History(cmd.Context(), limit)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if output == "json" {
				b, _ := json.MarshalIndent(h, "", "  ")
				_, err := fmt.Fprintf(w, "%s\n", b)
				return err
			}
			rows := make([][]string, len(h.Revisions))
			for i, r := range h.Revisions {
				rows[i] = []string{r.ID, r.Time.Local().Format("2006-01-02 15:04:05"), orDash(r.Author), orDash(r.Message), orDash(strings.Join(r.Changed, ","))}
			}
			printTable(w, []string{"REVISION", "TIME", "AUTHOR", "MESSAGE", "CHANGED"}, rows)
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "how many revisions to list")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	remote.add(cmd.Flags())
	return cmd
}

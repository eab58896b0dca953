package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
)

func init() { addVerb(newApplyCmd) }

func newApplyCmd() *cobra.Command {
	var (
		remote remoteFlags
		write  writeFlags
		files  []string
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or update policy objects on a server, all or nothing",
		Long: `Send policy objects to a running gatehouse server, which validates the
policy that would result as a whole and stores it only if nothing is
rejected: an invalid object, or a change that breaks another object (a
Route losing its Service), stores nothing and names the object and field.

An object the server already has is replaced in the file that defines it;
a new one gets its own file (routes/NAME.yaml and so on). Objects whose
content is unchanged are left alone. Files the objects name (Rego,
certificates, JWKS) are not sent: they must already be where the server
reads them.

-f takes a file, a directory (every *.yaml/*.yml under it) or - for
standard input, and may be repeated.

` + exitCodesHelp,
		Example: `  gatehouse apply -f routes.yaml
  gatehouse apply -f policies/ --dry-run
  cat route.yaml | gatehouse apply -f - --base-revision 41 -m "move /users to v2"`,
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
			res, err := c.Apply(cmd.Context(), body, write.options())
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), res)
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory or - (standard input) holding the objects; repeatable")
	remote.add(cmd.Flags())
	write.add(cmd.Flags())
	return cmd
}

// printResult says what a write did to every object, kubectl style.
func printResult(w io.Writer, res *api.ApplyResult) {
	suffix := ""
	if res.DryRun {
		suffix = " (dry run)"
	}
	for _, o := range res.Objects {
		fmt.Fprintf(w, "%s %s%s\n", o.Ref, o.Action, suffix)
	}
	if res.DryRun {
		fmt.Fprintf(w, "nothing stored; the policy is at revision %s\n", res.Revision)
		return
	}
	fmt.Fprintf(w, "revision %s\n", res.Revision)
}

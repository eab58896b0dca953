package main

import (
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
)

func init() { addVerb(newRollbackCmd) }

func newRollbackCmd() *cobra.Command {
	var (
		remote remoteFlags
		write  writeFlags
	)
	cmd := &cobra.Command{
		Use:   "rollback REVISION",
		Short: "Restore the policy of an earlier revision, as a new revision",
		Long: `Restore the server's policy as it was at REVISION (see "gatehouse
history"). The restore is a new revision, so it can itself be rolled back.
It is validated like an apply: a rollback that would break an object that
is valid now is refused (exit 1) and stores nothing.

` + exitCodesHelp,
		Example: `  gatehouse rollback 41
  gatehouse rollback 41 --dry-run`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := remote.client()
			if err != nil {
				return err
			}
			res, err := c.Rollback(cmd.Context(), api.RollbackRequest{Revision: args[0], BaseRevision: write.base, DryRun: write.dryRun, Message: write.message})
			if err != nil {
				return err
			}
			printResult(cmd.OutOrStdout(), res)
			return nil
		},
	}
	remote.add(cmd.Flags())
	write.add(cmd.Flags())
	return cmd
}

package main

import (
	"github.com/spf13/cobra"
)

func init() { addVerb(newDeleteCmd) }

func newDeleteCmd() *cobra.Command {
	var (
		remote remoteFlags
		write  writeFlags
	)
	cmd := &cobra.Command{
		Use:   "delete KIND NAME",
		Short: "Delete one policy object from a server",
		Long: `Delete one policy object. The server refuses (exit 1) when another object
still needs it (a Route naming the Service): change or delete that one
first. KIND is any case, singular or plural (route, Routes).

` + exitCodesHelp,
		Example: `  gatehouse delete route user-info
  gatehouse delete service users --dry-run`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := remote.client()
			if err != nil {
				return err
			}
			res, err := c.Delete(cmd.Context(), args[0], args[1], write.options())
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

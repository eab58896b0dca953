package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/admin"
)

func init() { addVerb(newTokenCmd) }

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Make bearer tokens for the admin API",
	}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role reader|admin --name NAME",
		Short: "Print a new admin API token once, and the line that admits it",
		Long: `Print a new random admin API token and the line to add to the file that
gatehouse serve --admin-tokens reads. The file stores only the token's SHA-256, so
the token is shown this once: hand it to its holder now (the CLI reads it from
GATEHOUSE_TOKEN). A reader may read (GET); an admin may also apply and delete.
Remove the line to revoke the token (restart gatehouse serve to reload the file).`,
		Example: `  gatehouse token create --role admin --name alice
  gatehouse token create --role reader --name grafana`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			token, line, err := admin.NewToken(admin.Role(role), name)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "token (shown once; the holder sets GATEHOUSE_TOKEN to it):\n  %s\nline for the --admin-tokens file:\n  %s\n", token, line)
			return err
		},
	}
	create.Flags().StringVar(&role, "role", "", "reader (GET only) or admin (everything); required")
	create.Flags().StringVar(&name, "name", "", "who holds the token, as logs name it (letters, digits, . _ @ -); required")
	_ = create.MarkFlagRequired("role")
	_ = create.MarkFlagRequired("name")
	cmd.AddCommand(create)
	return cmd
}

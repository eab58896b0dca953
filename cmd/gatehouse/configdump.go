package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { addVerb(newConfigDumpCmd) }

func newConfigDumpCmd() *cobra.Command {
	var (
		remote        remoteFlags
		gateway, kind string
	)
	cmd := &cobra.Command{
		Use:   "config-dump --gateway G [--client envoy|grpc]",
		Short: "Print the Envoy configuration a Gateway's proxies are served",
		Long: `Print, as JSON, the listeners, routes, clusters, endpoints and secrets
a server sends to the Envoy proxies (--client envoy) or proxyless gRPC
clients (--client grpc) of one Gateway, with the version of each type:
what Envoy's own /config_dump would show once the proxy took them. Private
keys and other secrets are redacted.

While a change that removes clusters is held back for state-of-the-world
Envoys (until each has ACKed routes that no longer name them; see serve
--xds-bridge-hold), "bridge" gives what those Envoys are served meanwhile:
its versions and the clusters it still holds.

` + exitCodesHelp,
		Example: `  gatehouse config-dump --gateway public
  gatehouse config-dump --gateway public --client grpc | jq '.resources.listeners[].name'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if kind != "envoy" && kind != "grpc" {
				return usageError{fmt.Errorf("--client %q: want envoy or grpc", kind)}
			}
			c, err := remote.client()
			if err != nil {
				return err
			}
			dump, err := c.ConfigDump(cmd.Context(), gateway, kind)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(dump, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	}
	cmd.Flags().StringVar(&gateway, "gateway", "", "the Gateway (required)")
	cmd.Flags().StringVar(&kind, "client", "envoy", "client kind: envoy or grpc (proxyless)")
	cmd.MarkFlagRequired("gateway")
	remote.add(cmd.Flags())
	return cmd
}

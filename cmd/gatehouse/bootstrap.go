package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/envoy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

// tlsFlags checks the --tls-* flags: they mean nothing without --tls.
func tlsFlags(cmd *cobra.Command, useTLS, noCert bool, t *envoy.TLSFiles) error {
	if !useTLS {
		for _, n := range []string{"tls-ca", "tls-cert", "tls-key", "tls-no-client-cert"} {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s needs --tls", n)
			}
		}
		return nil
	}
	if noCert {
		if cmd.Flags().Changed("tls-cert") || cmd.Flags().Changed("tls-key") {
			return fmt.Errorf("--tls-no-client-cert contradicts --tls-cert/--tls-key")
		}
		t.CertFile, t.KeyFile = "", ""
	}
	return nil
}

func init() { addVerb(newBootstrapCmd) }

func newBootstrapCmd() *cobra.Command {
	var (
		o       = envoy.DefaultOptions("")
		maxHeap = sizeFlag(envoy.DefaultMaxHeapBytes)
		format  string
		useTLS  bool
		tlsf    envoy.TLSFiles
		noCert  bool
	)
	cmd := &cobra.Command{
		Use:   "bootstrap --gateway NAME",
		Short: "Print the bootstrap that connects an Envoy or a proxyless gRPC client to gatehouse",
		Long: `Print a bootstrap for one proxy of a Gateway on standard output.

--format envoy (default) prints a complete Envoy v3 bootstrap in YAML: node.cluster
is the Gateway, listeners and clusters come from gatehouse over ADS (gRPC), the
admin interface listens on 127.0.0.1 only, and the overload manager bounds the heap
and the number of downstream connections, as Envoy's edge best practices advise.
Envoy uses delta (incremental) xDS by default: after the initial sync a change sends
only the resources that changed; --xds-protocol sotw selects state of the world.

--format grpc prints the xDS bootstrap JSON of grpc-go, for proxyless gRPC clients:
set GRPC_XDS_BOOTSTRAP to the file (or GRPC_XDS_BOOTSTRAP_CONFIG to its content) and
dial xds:///HOST for a host that a Route of the Gateway serves. Proxyless clients
use state of the world (grpc-go has no delta xDS client).

--tls connects to gatehouse over TLS (gatehouse serve --tls-cert): the proxy checks
gatehouse's certificate against --tls-ca (it must name the host of --xds-addr) and
presents --tls-cert/--tls-key, a client certificate naming its Gateway, for
gatehouse serve --client-ca (mTLS; --tls-no-client-cert for TLS alone). The file
paths are where the files are on the proxy's host; their defaults are the paths
gatehouse serve gives Envoy for ext_authz and rate limit (--proxy-tls-*). Envoy reads
them at start; grpc-go watches them (file_watcher) and picks up renewals.

Every proxy should have its own node id (--node-id, or Envoy's --service-node).`,
		Example: `  gatehouse bootstrap --gateway public > envoy.yaml && envoy -c envoy.yaml
  gatehouse bootstrap --gateway public --xds-addr gatehouse:18000 --node-id edge-1
  gatehouse bootstrap --gateway public --xds-addr gh-1:18000,gh-2:18000,gh-3:18000
  gatehouse bootstrap --gateway public --format grpc > xds-bootstrap.json
  gatehouse bootstrap --gateway public --xds-addr gatehouse:18000 --tls > envoy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.MaxHeapBytes = uint64(maxHeap)
			if err := tlsFlags(cmd, useTLS, noCert, &tlsf); err != nil {
				return err
			}
			if useTLS {
				o.TLS = &tlsf
			}
			var (
				out []byte
				err error
			)
			switch format {
			case "envoy":
				out, err = envoy.EnvoyBootstrap(o)
			case "grpc":
				if cmd.Flags().Changed("xds-protocol") && o.XDSProtocol != envoy.ProtocolSotW {
					return fmt.Errorf("--xds-protocol %q: proxyless gRPC clients use state of the world only (grpc-go has no delta xDS client)", o.XDSProtocol)
				}
				out, err = envoy.GRPCBootstrap(o)
			default:
				return fmt.Errorf("--format %q: want envoy or grpc", format)
			}
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Gateway, "gateway", "", "Gateway this proxy belongs to (its node.cluster); required")
	f.StringVar(&o.NodeID, "node-id", "", `node id of this proxy (default "<gateway>-envoy", or "<gateway>-grpc" with --format grpc)`)
	f.StringSliceVar(&o.XDSAddrs, "xds-addr", o.XDSAddrs, "host:port of gatehouse's xDS server, as the proxy reaches it; repeat it (or separate with commas) to list every replica")
	f.IntVar(&o.AdminPort, "admin-port", envoy.DefaultAdminPort, "Envoy admin port, on 127.0.0.1")
	f.IntVar(&o.StatsPort, "stats-port", envoy.DefaultStatsPort, "with --format envoy: port of a listener that serves only Envoy's Prometheus stats (GET /stats/prometheus); 0: none. Keep it out of your Gateways' listener ports")
	f.StringVar(&o.StatsAddr, "stats-addr", envoy.DefaultStatsAddr, "with --format envoy: address of the stats listener")
	f.Var(&maxHeap, "max-heap", "heap limit for Envoy's overload manager (bytes, or with a unit: 512MiB, 2GiB)")
	f.Int64Var(&o.MaxConnections, "max-connections", envoy.DefaultMaxConnections, "global limit of downstream connections")
	f.StringVar(&o.XDSProtocol, "xds-protocol", envoy.ProtocolDelta, "with --format envoy: delta (incremental xDS, api_type DELTA_GRPC) or sotw (state of the world, GRPC)")
	f.StringVar(&format, "format", "envoy", "envoy (Envoy v3 YAML) or grpc (grpc-go xDS bootstrap JSON)")
	f.StringVar(&o.UpstreamCAFile, "upstream-ca-file", "", "with --format grpc: CA bundle (PEM) the client uses to verify Services with tls (grpc-go takes no inline CA)")
	f.BoolVar(&useTLS, "tls", false, "connect to gatehouse over TLS (gatehouse serve --tls-cert), with a client certificate unless --tls-no-client-cert")
	f.StringVar(&tlsf.CAFile, "tls-ca", wire.ProxyTLSCAFile, "with --tls: CA file (PEM) on the proxy's host that signs gatehouse's certificate")
	f.StringVar(&tlsf.CertFile, "tls-cert", wire.ProxyTLSCertFile, "with --tls: the proxy's client certificate file (PEM) on its host, naming its Gateway")
	f.StringVar(&tlsf.KeyFile, "tls-key", wire.ProxyTLSKeyFile, "with --tls: the key file (PEM) of --tls-cert on the proxy's host")
	f.BoolVar(&noCert, "tls-no-client-cert", false, "with --tls: present no client certificate (gatehouse serve without --client-ca)")
	_ = cmd.MarkFlagRequired("gateway") // the flag exists, so this cannot fail
	return cmd
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/explain"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry/static"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func init() { addVerb(newExplainCmd) }

const explainLong = `Explain what a Gateway's proxies do with one request: which listener and virtual
host take it, every route tried in order with why it was skipped, the route that
matches (the policy Route it came from, backends and weights, timeout, retries,
rewrite), the HTTP filters in order with what each does on that route, which
Authentication and Authorization apply, the WAF (Firewall and mode), request
validation (document, mode, and whether the Route or its Service carries it) and
Transformation that run on it, and the rate-limit descriptors Envoy would send,
entry by entry.

The answer is computed from the translated Envoy resources (the route table in the
order it is served, the connection manager's filters and host/path settings),
following Envoy's own matching, so it says what a proxy does, not what the policy
meant. Values that depend on the live request and are not given (a JWT claim, the
consumer without --consumer, the address without --client-ip) are marked as such.

With --policy-dir it works offline, loading and translating the directory as
"gatehouse serve" would (objects that fail validation are left out, as serve leaves
them out). Without it, it asks a running server (--server, $GATEHOUSE_ADDR), which
explains the request against what its proxies are served now.

Exit status: 0 a route matched, 1 no route matched (the output says what would
have to change) or the policy cannot be served, 2 usage (bad flags, an unreadable
policy directory, an unknown Gateway).`

type explainFlags struct {
	remote                                 remoteFlags
	policyDir, gateway, host, path, method string
	headers, query                         []string
	consumer, client, clientIP, output     string
}

func newExplainCmd() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain [--policy-dir DIR] --gateway G --host H --path P [flags]",
		Short: "Explain which route a request takes and which policies apply to it",
		Long:  explainLong,
		Example: `  gatehouse explain --gateway public --host api.example.com --path /users/42
  gatehouse explain --policy-dir examples/quickstart --gateway public \
      --host api.example.com --path /users/42
  gatehouse explain --policy-dir policy --gateway edge --host api.example.com:8443 \
      --path '/orders?page=2' --method POST --header x-tenant=acme \
      --consumer acme --client-ip 203.0.113.7 -o json
  gatehouse explain --policy-dir policy --gateway edge --client grpc \
      --host users.internal --path /users.v1.Users/Get`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runExplain(cmd, f)
		},
	}
	cmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return explainUsage(cmd, err.Error())
	})
	fl := cmd.Flags()
	fl.StringVar(&f.policyDir, "policy-dir", "", "policy directory or file to translate offline (default: ask the server)")
	fl.StringVar(&f.gateway, "gateway", "", "the Gateway whose proxies receive the request (required)")
	fl.StringVar(&f.host, "host", "", "Host header, :PORT picks a listener; gRPC: host dialled (required)")
	fl.StringVar(&f.path, "path", "", "path with query; gRPC: /package.Service/Method (required)")
	fl.StringVar(&f.method, "method", "", "HTTP method (default GET; POST for gRPC)")
	fl.StringArrayVar(&f.headers, "header", nil, "request header NAME=VALUE (repeatable)")
	fl.StringArrayVar(&f.query, "query", nil, "query parameter NAME=VALUE appended to the path (repeatable)")
	fl.StringVar(&f.consumer, "consumer", "", "Consumer the authz service would identify (consumer, plan keys)")
	fl.StringVar(&f.clientIP, "client-ip", "", "client address, Envoy's TCP peer (source CIDRs, address keys)")
	fl.StringVar(&f.client, "client", "envoy", "client kind: envoy or grpc (proxyless)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	f.remote.add(fl)
	return cmd
}

// explainUsage reports a usage mistake and ends with status 2.
func explainUsage(cmd *cobra.Command, msg string) error {
	fmt.Fprintf(cmd.ErrOrStderr(), "gatehouse %s: %s (see gatehouse %s --help)\n", cmd.Name(), msg, cmd.Name())
	return exitError{code: 2}
}

func runExplain(cmd *cobra.Command, f explainFlags) error {
	for _, r := range []struct{ flag, v string }{{"--gateway", f.gateway}, {"--host", f.host}, {"--path", f.path}} {
		if r.v == "" {
			return explainUsage(cmd, r.flag+" is required")
		}
	}
	if f.output != "text" && f.output != "json" {
		return explainUsage(cmd, fmt.Sprintf("-o %q: want text or json", f.output))
	}
	req := explain.Request{
		Gateway: f.gateway, Client: translate.ClientKind(f.client), Host: f.host, Path: f.path,
		Method: f.method, Consumer: f.consumer, ClientIP: f.clientIP,
	}
	var err error
	if req.Headers, err = keyValues("--header", f.headers); err != nil {
		return explainUsage(cmd, err.Error())
	}
	if req.Query, err = keyValues("--query", f.query); err != nil {
		return explainUsage(cmd, err.Error())
	}
	if f.policyDir == "" {
		return explainRemote(cmd, f, req)
	}
	fsys, dir, err := policyFS(f.policyDir)
	if err != nil {
		return explainUsage(cmd, err.Error())
	}
	snap := policy.LoadWith(fsys, nil, policy.Options{ReadFile: policy.DirReader(dir)})
	errOut := cmd.ErrOrStderr()
	if len(snap.Rejected) > 0 {
		fmt.Fprintf(errOut, "note: %d object(s) rejected and left out, as serve leaves them out (gatehouse validate %s says why)\n",
			len(snap.Rejected), f.policyDir)
	}
	if why := snap.Held[f.gateway]; len(why) > 0 {
		fmt.Fprintf(errOut, "gatehouse explain: Gateway %s would not be built from this policy (serve keeps its last good configuration):\n  %s\n",
			f.gateway, strings.Join(why, "\n  "))
		return exitError{code: 1}
	}
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		fmt.Fprintf(errOut, "gatehouse explain: the policy does not translate, so nothing of it would be served: %v\n", err)
		return exitError{code: 1}
	}
	res, err := explain.Explain(explain.Inputs{Policy: snap, Groups: groups, Endpoints: static.Endpoints(snap)}, req)
	if err != nil {
		return explainUsage(cmd, err.Error())
	}
	if err := writeExplanation(cmd.OutOrStdout(), res, f.output); err != nil {
		return err
	}
	if res.Route == nil {
		return exitError{code: 1}
	}
	return nil
}

// explainRemote asks the server named by the remote flags.
func explainRemote(cmd *cobra.Command, f explainFlags, req explain.Request) error {
	c, err := f.remote.client()
	if err != nil {
		return err
	}
	res, err := c.Explain(cmd.Context(), req)
	if err != nil {
		return err
	}
	if err := writeExplanation(cmd.OutOrStdout(), res, f.output); err != nil {
		return err
	}
	if res.Route == nil {
		return exitError{code: 1}
	}
	return nil
}

func writeExplanation(w io.Writer, res *explain.Result, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return explain.WriteText(w, res)
}

// keyValues parses repeated NAME=VALUE flags.
func keyValues(flag string, vs []string) ([]explain.KV, error) {
	out := make([]explain.KV, 0, len(vs))
	for _, v := range vs {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want NAME=VALUE", flag, v)
		}
		out = append(out, explain.KV{Name: k, Value: val})
	}
	return out, nil
}

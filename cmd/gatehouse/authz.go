package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/gatehouse-dev/gatehouse/pkg/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/wire"
)

func init() { addVerb(newAuthzCmd) }

func newAuthzCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "authz",
		Short: "Test and dry-run Rego authorization policies",
	}
	c.AddCommand(newAuthzTestCmd(), newAuthzEvalCmd())
	return c
}

func newAuthzTestCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test DIR",
		Short: "Run the Rego unit tests (test_* rules) under DIR",
		Long: `Run every test_ rule of the .rego files under DIR, as "opa test DIR" would,
with gatehouse's Rego library (data.gatehouse.lib) available. Prints PASS, FAIL,
ERROR or SKIP per test, then a summary.

Exit status: 0 if every test passes, 1 if one fails, none is found, or a file
does not compile (the error names the file and line).`,
		Example: `  gatehouse authz test policies
  gatehouse authz test my-policies/rego`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*timeout+time.Minute)
			defer cancel()
			results, err := authz.RunRegoTests(ctx, os.DirFS(args[0]), timeout)
			if err != nil {
				return err
			}
			return printRegoTests(cmd.OutOrStdout(), results)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "time limit per test")
	return cmd
}

func printRegoTests(w io.Writer, results []authz.RegoTestResult) error {
	var b strings.Builder
	var pass, fail, skip int
	for _, r := range results {
		outcome := "PASS"
		switch {
		case r.Skip:
			outcome = "SKIP"
			skip++
		case r.Err != "":
			outcome = "ERROR"
			fail++
		case !r.Pass:
			outcome = "FAIL"
			fail++
		default:
			pass++
		}
		fmt.Fprintf(&b, "%-5s %s:%d %s.%s (%s)\n", outcome, r.File, r.Line, r.Package, r.Name, r.Duration.Round(time.Microsecond))
		if r.Err != "" {
			fmt.Fprintf(&b, "      %s\n", r.Err)
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed, %d skipped\n", pass, fail, skip)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(results) == 0 {
		return errors.New("no Rego tests found (rules named test_*)")
	}
	if fail > 0 {
		return exitError{code: 1}
	}
	return nil
}

type evalFlags struct {
	policy, request, dir, query, consumer string
	groups                                []string
	failOpen, asJSON                      bool
	maxBody                               int
}

func newAuthzEvalCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "eval --policy FILE|NAME --request FILE",
		Short: "Decide one request with a policy, without a proxy (dry run)",
		Long: `Evaluate one ext_authz CheckRequest (a protojson file, as Envoy sends it: the
"attributes" with request.http, metadataContext for verified JWT payloads, ...)
against an Authorization, and print the decision, its reasons and decision id,
and the headers the proxy would add. Nothing is sent anywhere.

--policy is a .rego file, or the name of an Authorization object in
--policy-dir. Authentication is not checked: the caller is taken to be
--consumer (default anonymous) with --group groups, as if already identified.

Exit status: 0 if allowed, 2 if denied, 1 if the policy or request cannot be read.`,
		Example: `  gatehouse authz eval --policy policies/users.rego --request req.json
  gatehouse authz eval --policy users-authz --policy-dir policies --request req.json --consumer acme --group partners`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuthzEval(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.policy, "policy", "", "a .rego file, or an Authorization name in --policy-dir (required)")
	fl.StringVar(&f.request, "request", "", "CheckRequest as protojson (required; - for stdin)")
	fl.StringVar(&f.dir, "policy-dir", ".", "policy directory, for --policy NAME")
	fl.StringVar(&f.query, "query", "", "decision to query (default "+authz.DefaultQuery+")")
	fl.StringVar(&f.consumer, "consumer", wire.AnonymousConsumer, "the caller's consumer name")
	fl.StringSliceVar(&f.groups, "group", nil, "the consumer's groups (repeatable)")
	fl.BoolVar(&f.failOpen, "fail-open", false, "allow on an evaluation error or the evaluation time limit (as the policy's failOpen; never on a malformed request or an undefined decision)")
	fl.BoolVar(&f.asJSON, "json", false, "print the decision and the CheckResponse as JSON")
	fl.IntVar(&f.maxBody, "max-body-bytes", 0, "largest body parsed into input.parsed_body (0: default)")
	_ = cmd.MarkFlagRequired("policy")
	_ = cmd.MarkFlagRequired("request")
	return cmd
}

func runAuthzEval(cmd *cobra.Command, f evalFlags) error {
	name, pol, err := loadPolicy(f)
	if err != nil {
		return err
	}
	req, err := readCheckRequest(cmd.InOrStdin(), f.request)
	if err != nil {
		return err
	}
	svc, err := authz.New(authz.Options{})
	if err != nil {
		return err
	}
	cfg := &authz.Config{Policies: map[string]authz.Policy{name: pol}, MaxBodyBytes: f.maxBody}
	if err := svc.Update(cmd.Context(), cfg); err != nil {
		return err
	}
	// The request is decided against this policy whatever route it names.
	if req.Attributes == nil {
		req.Attributes = &authv3.AttributeContext{}
	}
	if req.Attributes.ContextExtensions == nil {
		req.Attributes.ContextExtensions = map[string]string{}
	}
	req.Attributes.ContextExtensions[wire.CtxAuthorization] = name
	resp, d := svc.CheckAs(cmd.Context(), req, f.consumer, f.groups)
	if f.asJSON {
		err = printEvalJSON(cmd.OutOrStdout(), d, resp)
	} else {
		err = printEval(cmd.OutOrStdout(), d, resp, svc.Engines()[name])
	}
	if err != nil {
		return err
	}
	if !d.Allowed {
		return exitError{code: 2}
	}
	return nil
}

// loadPolicy reads --policy: a Rego file, or an Authorization object.
func loadPolicy(f evalFlags) (string, authz.Policy, error) {
	if strings.HasSuffix(f.policy, ".rego") {
		src, err := os.ReadFile(f.policy)
		if err != nil {
			return "", authz.Policy{}, fmt.Errorf("--policy: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(f.policy), ".rego")
		return name, authz.Policy{Modules: map[string]string{f.policy: string(src)}, Query: f.query, FailOpen: f.failOpen}, nil
	}
	// Load the directory exactly as "gatehouse serve" does, so the dry run
	// decides with what the service would be given.
	snap := policy.LoadDir(f.dir, nil)
	a := snap.Authorizations[f.policy]
	if a == nil {
		for _, r := range snap.Rejected {
			if r.Ref == "Authorization/"+f.policy {
				return "", authz.Policy{}, fmt.Errorf("Authorization/%s is rejected:\n  %s", f.policy, strings.Join(r.Errors, "\n  "))
			}
		}
		return "", authz.Policy{}, fmt.Errorf("--policy %q: no .rego file, and no Authorization of that name in %s", f.policy, f.dir)
	}
	sp := a.Spec
	p := authz.Policy{FailOpen: sp.FailOpen || f.failOpen}
	if sp.Allow != nil {
		p.Allow = &authz.Allow{Groups: sp.Allow.Groups}
		return f.policy, p, nil
	}
	p.Modules = map[string]string{sp.RegoFile: sp.RegoSource}
	p.Query = sp.RegoQuery()
	if f.query != "" {
		p.Query = f.query
	}
	return f.policy, p, nil
}

func readCheckRequest(stdin io.Reader, file string) (*authv3.CheckRequest, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 64<<20))
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, fmt.Errorf("--request: %w", err)
	}
	var req authv3.CheckRequest
	if err := protojson.Unmarshal(data, &req); err != nil {
		return nil, fmt.Errorf("--request %s: not a CheckRequest in protojson: %w", file, err)
	}
	return &req, nil
}

func printEval(w io.Writer, d authz.Decision, resp *authv3.CheckResponse, engine string) error {
	var b strings.Builder
	verdict := "allow"
	if !d.Allowed {
		verdict = fmt.Sprintf("deny (%d)", d.Status)
	}
	if d.FailedOpen {
		verdict += " (failed open)"
	}
	fmt.Fprintf(&b, "decision:    %s\n", verdict)
	fmt.Fprintf(&b, "decision id: %s\n", d.ID)
	fmt.Fprintf(&b, "policy:      %s\n", d.Policy)
	fmt.Fprintf(&b, "consumer:    %s\n", d.Consumer)
	if engine != "" {
		fmt.Fprintf(&b, "engine:      %s\n", engine)
	}
	b.WriteString("reasons:\n")
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	headers := func(title string, hs []*corev3.HeaderValueOption) {
		if len(hs) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:\n", title)
		for _, h := range hs {
			fmt.Fprintf(&b, "  %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
	}
	if ok := resp.GetOkResponse(); ok != nil {
		headers("upstream headers", ok.GetHeaders())
		if len(ok.GetHeadersToRemove()) > 0 {
			fmt.Fprintf(&b, "upstream headers removed: %s\n", strings.Join(ok.GetHeadersToRemove(), ", "))
		}
		headers("response headers", ok.GetResponseHeadersToAdd())
		for _, q := range ok.GetQueryParametersToSet() {
			fmt.Fprintf(&b, "query set: %s=%s\n", q.GetKey(), q.GetValue())
		}
		if len(ok.GetQueryParametersToRemove()) > 0 {
			fmt.Fprintf(&b, "query removed: %s\n", strings.Join(ok.GetQueryParametersToRemove(), ", "))
		}
	} else if den := resp.GetDeniedResponse(); den != nil {
		headers("response headers", den.GetHeaders())
		if den.GetBody() != "" {
			fmt.Fprintf(&b, "response body: %q\n", den.GetBody())
		}
	}
	if md := resp.GetDynamicMetadata().AsMap(); len(md) > 0 {
		j, _ := json.Marshal(md)
		fmt.Fprintf(&b, "dynamic metadata: %s\n", j)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func printEvalJSON(w io.Writer, d authz.Decision, resp *authv3.CheckResponse) error {
	r, err := protojson.Marshal(resp)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(struct {
		Decision authz.Decision  `json:"decision"`
		Response json.RawMessage `json:"response"`
	}{d, r}, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// verbs are the constructors of the sub-commands. A verb is added by one file:
//
//	func init() { addVerb(newServeCmd) }
//
// Constructors run once per root command, so every test gets fresh flags.
var verbs []func() *cobra.Command

func addVerb(newCmd func() *cobra.Command) { verbs = append(verbs, newCmd) }

// exitError ends the process with a status code without printing anything
// more: the command has already reported what went wrong (validate uses it).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

const rootLong = `Gatehouse is an API-gateway control plane for Envoy.

It reads declarative policy objects (Gateway, Service, Route) from a directory
of YAML files, combines them with service-registry state, and serves the
resulting listeners, routes, clusters and endpoints over xDS (ADS) to Envoy
proxies and to proxyless gRPC clients. Bad policy is rejected with its file,
line and field, and never reaches a proxy: the last good config keeps serving.

A proxy belongs to the Gateway named by its node.cluster; "gatehouse
bootstrap --gateway NAME" prints a bootstrap that says so.

Getting started:
  gatehouse serve --policy-dir examples/quickstart   run the control plane
  gatehouse status                                   proxies and their sync state
  gatehouse bootstrap --gateway public > envoy.yaml  connect an Envoy
  gatehouse validate examples/quickstart             check policy files offline

Managing policy on a running server (its admin API; --server or
GATEHOUSE_ADDR, --token or GATEHOUSE_TOKEN):
  gatehouse apply -f routes.yaml    diff -f, get KIND [NAME], delete KIND NAME
  gatehouse status                  history, rollback REV, config-dump --gateway G

Policy objects are YAML files; examples/quickstart in the source repository is a
complete, commented example.

` + exitCodesHelp + `
 Documentation: README.md (a 5-minute tour) and
docs/design.md; "gatehouse <command> --help" for each command.`

// newRootCmd builds the whole command tree with out and errOut as the
// command's standard output and error.
func newRootCmd(out, errOut io.Writer) *cobra.Command {
	var logLevel, logFormat string
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "API-gateway control plane for Envoy and proxyless gRPC",
		Long:          rootLong,
		Version:       versionString(),
		SilenceUsage:  true, // a failed command is not a usage mistake
		SilenceErrors: true, // run prints errors once, in one format
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			logger, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return usageError{err}
			}
			slog.SetDefault(logger)
			return nil
		},
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w; see %s --help", err, cmd.CommandPath())}
	})
	root.PersistentFlags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	for _, newCmd := range verbs {
		root.AddCommand(newCmd())
	}
	return root
}

// newLogger is the only place logging is configured; library packages do not log.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

// run executes the command line and returns the process exit status.
func run(ctx context.Context, args []string, out, errOut io.Writer) int {
	root := newRootCmd(out, errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var exit exitError
	if !errors.As(err, &exit) {
		fmt.Fprintf(errOut, "gatehouse: %v\n", err)
	}
	return exitCode(err)
}

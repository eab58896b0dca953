package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/pkg/client"
	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// Exit codes of every verb (documented in the root help and the README).
const (
	exitOK          = 0
	exitRejected    = 1 // invalid input, rejected by validation, not found
	exitUsage       = 2 // wrong flags or arguments
	exitUnreachable = 3 // the server did not answer, or its store is down
	exitConflict    = 4 // the change was based on a stale revision
)

const exitCodesHelp = `Exit codes:
  0  ok
  1  rejected or invalid (the message names the object and field)
  2  usage: unknown command, flag or argument
  3  the server is unreachable (or its policy store is)
  4  conflict: the policy changed since the revision the change was based on`

// usageError is a mistake on the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// exitCode maps an error to the exit code the CLI documents.
func exitCode(err error) int {
	var (
		exit  exitError
		usage usageError
		unr   *client.UnreachableError
		ae    *client.APIError
	)
	switch {
	case errors.As(err, &exit):
		return exit.code
	case errors.As(err, &usage), isCobraUsage(err):
		return exitUsage
	case errors.As(err, &unr):
		return exitUnreachable
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusConflict:
			return exitConflict
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return exitUnreachable
		}
	}
	return exitRejected
}

// isCobraUsage recognises the usage errors cobra makes itself and returns
// as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag(s)", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// remoteFlags are the flags of every verb that talks to a server.
type remoteFlags struct {
	server  string
	token   string
	timeout time.Duration
}

func (r *remoteFlags) add(f *pflag.FlagSet) {
	f.StringVarP(&r.server, "server", "s", "", "server's admin API address (default $"+client.EnvAddr+" or "+client.DefaultAddr+")")
	f.StringVar(&r.token, "token", "", "bearer token for the admin API (default $"+client.EnvToken+")")
	f.DurationVar(&r.timeout, "timeout", 30*time.Second, "how long to wait for the server")
}

// client returns the API client the flags (or the environment) describe.
func (r *remoteFlags) client() (*client.Client, error) {
	c, err := client.New(client.Options{Addr: r.server, Token: r.token, Author: author(), Timeout: r.timeout})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// author is who this CLI says it is in the history: user@host.
func author() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host == "" {
		return name
	}
	return name + "@" + host
}

// usageArgs wraps a cobra.PositionalArgs so a wrong count is a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{fmt.Errorf("%w; see gatehouse %s --help", err, cmd.Name())}
		}
		return nil
	}
}

// writeFlags are those of every verb that changes the policy.
type writeFlags struct {
	dryRun  bool
	base    string
	message string
}

func (w *writeFlags) add(f *pflag.FlagSet) {
	f.BoolVar(&w.dryRun, "dry-run", false, "validate and show what would change; store nothing")
	f.StringVar(&w.base, "base-revision", "", "refuse (exit 4) unless the policy is still at this revision (see gatehouse history)")
	f.StringVarP(&w.message, "message", "m", "", "why: recorded in the history")
}

func (w *writeFlags) options() client.WriteOptions {
	return client.WriteOptions{DryRun: w.dryRun, BaseRevision: w.base, Message: w.message}
}

// readInputs reads -f arguments: files, directories (every *.yaml/*.yml
// under them, hidden ones skipped) and "-" for standard input; it joins
// them as one YAML stream.
func readInputs(stdin io.Reader, paths []string) ([]byte, error) {
	if len(paths) == 0 {
		return nil, usageError{errors.New("-f is required: give a file, a directory or - for standard input")}
	}
	var out []byte
	var errs []error
	// Each input is checked on its own first, so an error names its file.
	add := func(name string, b []byte) {
		if _, err := store.ParseObjects(b); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		if len(out) > 0 {
			out = append(out, "\n---\n"...)
		}
		out = append(out, b...)
	}
	for _, p := range paths {
		if p == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading standard input: %w", err)
			}
			add("standard input", b)
			continue
		}
		files, err := yamlFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("-f %s: %w", p, err)
			}
			add(f, b)
		}
	}
	return out, errors.Join(errs...)
}

// yamlFiles is p itself, or every *.yaml/*.yml file under the directory p
// in lexical order, hidden files and directories skipped (as serve reads a
// policy directory).
func yamlFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", p, err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if f != p && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(f); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("-f %s: %w", p, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("-f %s: no *.yaml or *.yml files in this directory", p)
	}
	return files, nil
}

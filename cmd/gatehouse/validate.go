package main

import (
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/explain"
	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func init() { addVerb(newValidateCmd) }

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate PATH",
		Short: "Check a policy directory or file and print every error",
		Long: `Load a policy directory (every *.yaml and *.yml file in it and its subdirectories)
or a single policy file exactly as "gatehouse serve" would, print every error with
its file, line, object and field, then a one-line summary.

Exit status: 0 if every object is valid, 1 if any is rejected or PATH cannot be read.`,
		Example: `  gatehouse validate examples/quickstart
  gatehouse validate my-policies/routes.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, dir, err := policyFS(args[0])
			if err != nil {
				return err
			}
			// As serve does: files a policy names (Rego, JWKS, certificates)
			// may live beside the policy directory (../policies/x.rego).
			snap := policy.LoadWith(fsys, nil, policy.Options{ReadFile: policy.DirReader(dir)})
			errs := snap.Errors()
			if err := printValidation(cmd.OutOrStdout(), snap, errs); err != nil {
				return err
			}
			if len(errs) > 0 || len(snap.Rejected) > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
}

func printValidation(w io.Writer, snap *policy.Snapshot, errs []string) error {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	// Not errors: what proxyless gRPC clients will not get, or will get
	// without its protections (Route/Gateway proxyless.serveUnprotected).
	for _, n := range snap.ProxylessNotes() {
		b.WriteString("note: ")
		b.WriteString(n)
		b.WriteByte('\n')
	}
	for _, w := range shadowWarnings(snap) {
		b.WriteString("warning: ")
		b.WriteString(w)
		b.WriteByte('\n')
	}
	kinds := []struct {
		n       int
		one, pl string
	}{
		{len(snap.Gateways), "Gateway", "Gateways"},
		{len(snap.Services), "Service", "Services"},
		{len(snap.Routes), "Route", "Routes"},
		{len(snap.Authentications), "Authentication", "Authentications"},
		{len(snap.Authorizations), "Authorization", "Authorizations"},
		{len(snap.Consumers), "Consumer", "Consumers"},
		{len(snap.Plans), "Plan", "Plans"},
		{len(snap.RateLimits), "RateLimit", "RateLimits"},
		{len(snap.Firewalls), "Firewall", "Firewalls"},
		{len(snap.Transformations), "Transformation", "Transformations"},
	}
	total := 0
	var parts []string
	for i, k := range kinds {
		total += k.n
		// The first three always show, so the common case reads the same.
		if i < 3 || k.n > 0 {
			parts = append(parts, plural(k.n, k.one, k.pl))
		}
	}
	for _, gw := range slices.Sorted(maps.Keys(snap.Held)) {
		fmt.Fprintf(&b, "Gateway %s would not be built (gatehouse serve keeps its last good configuration, none on a fresh start):\n", gw)
		for _, why := range snap.Held[gw] {
			fmt.Fprintf(&b, "  %s\n", why)
		}
	}
	fmt.Fprintf(&b, "%s rejected, %d valid: %s\n",
		plural(len(snap.Rejected), "object", "objects"), total, strings.Join(parts, ", "))
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// policyFS opens PATH as the policy loader's file system. A single file is
// served from its directory (so relative certificate paths still resolve),
// with the directory listing narrowed to that one file.
// It also returns the directory that relative file references resolve from.
func policyFS(path string) (fs.FS, string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("policy path: %w", err)
	}
	if info.IsDir() {
		return os.DirFS(path), path, nil
	}
	if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
		return nil, "", fmt.Errorf("policy path %s: a policy file ends in .yaml or .yml", path)
	}
	dir := filepath.Dir(path)
	return singleFileFS{FS: os.DirFS(dir), name: filepath.Base(path)}, dir, nil
}

type singleFileFS struct {
	fs.FS
	name string
}

// ReadDir lists only the chosen file at the root; the loader walks the tree
// through ReadDir, so nothing else is loaded.
func (s singleFileFS) ReadDir(dir string) ([]fs.DirEntry, error) {
	if dir != "." {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	info, err := fs.Stat(s.FS, s.name)
	if err != nil {
		return nil, err
	}
	return []fs.DirEntry{fs.FileInfoToDirEntry(info)}, nil
}

// shadowWarnings lists the Routes no request reaches (explain.Shadowed on
// the translated Envoy tables). Not errors: the policy model's order is
// deliberate, but a shadowed Route is almost always a mistake. A snapshot
// the translator refuses has its errors reported already.
func shadowWarnings(snap *policy.Snapshot) []string {
	groups, err := translate.Translate(snap, translate.Options{})
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range explain.Shadowed(groups) {
		out = append(out, s.String())
	}
	return out
}

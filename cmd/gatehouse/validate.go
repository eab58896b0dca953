package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
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
			fsys, err := policyFS(args[0])
			if err != nil {
				return err
			}
			snap := policy.Load(fsys, nil)
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
	fmt.Fprintf(&b, "%s rejected, %d valid: %s, %s, %s\n",
		plural(len(snap.Rejected), "object", "objects"),
		len(snap.Gateways)+len(snap.Services)+len(snap.Routes),
		plural(len(snap.Gateways), "Gateway", "Gateways"),
		plural(len(snap.Services), "Service", "Services"),
		plural(len(snap.Routes), "Route", "Routes"))
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
func policyFS(path string) (fs.FS, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("policy path: %w", err)
	}
	if info.IsDir() {
		return os.DirFS(path), nil
	}
	if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
		return nil, fmt.Errorf("policy path %s: a policy file ends in .yaml or .yml", path)
	}
	return singleFileFS{FS: os.DirFS(filepath.Dir(path)), name: filepath.Base(path)}, nil
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

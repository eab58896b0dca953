package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time: go build -ldflags "-X main.version=v0.1.0".
var version = "dev"

func init() { addVerb(newVersionCmd) }

// versionString is the version plus the VCS revision Go stamped into the
// binary, so a "dev" build still says which commit it is.
func versionString() string {
	rev, dirty := "", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
				if len(rev) > 12 {
					rev = rev[:12]
				}
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
	}
	if rev == "" { // built without VCS stamping (-buildvcs=false, or outside git)
		return fmt.Sprintf("%s (%s)", version, runtime.Version())
	}
	return fmt.Sprintf("%s (commit %s%s, %s)", version, rev, dirty, runtime.Version())
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the gatehouse version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "gatehouse %s\n", versionString())
			return err
		},
	}
}

// Command envoyapigen writes the tables of Envoy API elements that Envoy
// does not implement, read from the generated Go code of the pinned
// go-control-plane module: protoc-gen-go copies each proto comment onto its
// Go declaration, so a field, message or enum value whose comment carries
// Envoy's `[#not-implemented-hide:]` tag (or `[#alpha:]`) is marked in the
// .pb.go file. The raw file descriptor in the same file gives each Go name
// its proto full name.
//
// Run it with `go generate ./xds/translate` (or `make envoy-api`); a test of
// this package fails when the committed table is stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// modules are the Go modules whose .pb.go files hold the Envoy API (envoy.*
// packages) and the xDS/udpa types it uses (xds.*, udpa.*).
var modules = []string{
	"github.com/envoyproxy/go-control-plane/envoy",
	"github.com/cncf/xds/go",
}

func main() {
	out := flag.String("o", "envoyapi_gen.go", "output file")
	pkg := flag.String("pkg", "translate", "package name of the output")
	flag.Parse()
	src, err := generateFromModules(*pkg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "envoyapigen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "envoyapigen:", err)
		os.Exit(1)
	}
}

// module is one Go module as go list reports it for the main module's build.
type module struct {
	Path, Version, Dir string
}

// generateFromModules resolves the modules through `go list -m` (so the
// versions are the ones go.mod pins) and generates the table.
func generateFromModules(pkg string) ([]byte, error) {
	var mods []module
	for _, path := range modules {
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}} {{.Dir}}", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list -m %s: %v: %s", path, err, stderr.String())
		}
		f := strings.SplitN(strings.TrimSpace(string(b)), " ", 3)
		if len(f) != 3 || f[2] == "" {
			return nil, fmt.Errorf("go list -m %s: module not downloaded (run go mod download)", path)
		}
		mods = append(mods, module{Path: f[0], Version: f[1], Dir: f[2]})
	}
	t, err := scan(mods)
	if err != nil {
		return nil, err
	}
	return render(pkg, mods, t)
}

// Package policies embeds gatehouse's Rego library (package gatehouse.lib),
// which the authz service loads beside every Authorization policy. The
// library's own tests (*_test.rego) stay in this directory and run with
// `go test ./policies` or `gatehouse authz test policies`.
package policies

import (
	"embed"
	"io/fs"
	"strings"
)

//go:embed *.rego
var files embed.FS

// Library returns the library modules by file name, without the tests.
func Library() map[string]string {
	out := map[string]string{}
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		panic("policies: embedded library unreadable: " + err.Error()) // impossible with go:embed
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, "_test.rego") {
			continue
		}
		b, err := fs.ReadFile(files, name)
		if err != nil {
			panic("policies: embedded library unreadable: " + err.Error())
		}
		out["gatehouse/"+name] = string(b)
	}
	return out
}

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/clisession"
)

// A whole CLI session against `gatehouse serve --policy-dir` (the directory
// store): see clisession.Run.
func TestCLISessionDirectoryStore(t *testing.T) {
	t.Parallel()
	v1, v2 := startBackend(t, "v1"), startBackend(t, "v2")
	dir := t.TempDir()
	writePolicy(t, dir, clisession.Policy(v1, v2))
	g := startGatehouse(t, dir)
	clisession.Run(t, gatehouseBin, g, v1, v2)
	// The Route was replaced in the file that defined it, not moved.
	if data, _ := os.ReadFile(filepath.Join(dir, "route.yaml")); !strings.Contains(string(data), "service: v2") {
		t.Errorf("route.yaml after the session:\n%s", data)
	}
}

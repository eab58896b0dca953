package gatehouseproc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// A missing tool fails the test, whatever CI says, unless the opt-out is
// set. Run in a child process: a failing or skipping t cannot be observed
// from inside.
func TestCachedToolFailsWhenMissing(t *testing.T) {
	if os.Getenv("CACHEDTOOL_CHILD") == "1" {
		CachedTool(t, "GATEHOUSE_TEST_TOOL", "tool-v0", "tool", "tool")
		t.Fatal("CachedTool returned for a missing tool")
	}
	missing := filepath.Join(t.TempDir(), "no-such-tool")
	present := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(present, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, ci, optOut, want string
	}{
		{missing, "", "", "--- FAIL"},
		{missing, "true", "", "--- FAIL"},
		{missing, "", "1", "--- SKIP"},
		{present, "", "", "CachedTool returned"}, // found: the child goes on
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCachedToolFailsWhenMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "CACHEDTOOL_CHILD=1", "GATEHOUSE_TEST_TOOL="+c.path,
			"CI="+c.ci, testenv.SkipMissingEnv+"="+c.optOut)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), c.want) {
			t.Fatalf("tool %s, CI=%q, %s=%q: want %q, got:\n%s", c.path, c.ci, testenv.SkipMissingEnv, c.optOut, c.want, out)
		}
		if c.path == missing && !strings.Contains(string(out), "make tool") {
			t.Fatalf("the message does not name the make target:\n%s", out)
		}
	}
}

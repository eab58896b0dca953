package gatehouseproc

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// CachedTool returns the path of a test tool that a Makefile target builds
// into the cache (${XDG_CACHE_HOME:-~/.cache}/gatehouse/<dir>/<file>), or
// the path in the environment variable env when it is set. If the file is
// missing the test fails (or is skipped with GATEHOUSE_SKIP_MISSING=1) with
// a message naming makeTarget.
func CachedTool(t testing.TB, env, dir, file, makeTarget string) string {
	t.Helper()
	path := os.Getenv(env)
	if path == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		path = filepath.Join(cache, "gatehouse", dir, file)
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		testenv.Missing(t, "%s not found at %s: run `make %s` (or set %s)", file, path, makeTarget, env)
	}
	return path
}

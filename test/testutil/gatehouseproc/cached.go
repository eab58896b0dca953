package gatehouseproc

import (
	"os"
	"path/filepath"
	"testing"
)

// CachedTool returns the path of a test tool that a Makefile target builds
// into the cache (${XDG_CACHE_HOME:-~/.cache}/gatehouse/<dir>/<file>), or
// the path in the environment variable env when it is set. If the file is
// missing the test is skipped, or fails when CI is set, with a message
// naming makeTarget.
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
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found at %s and CI is set: run `make %s` (or set %s)", file, path, makeTarget, env)
		}
		t.Skipf("%s not found at %s: run `make %s` (or set %s); skipped outside CI", file, path, makeTarget, env)
	}
	return path
}

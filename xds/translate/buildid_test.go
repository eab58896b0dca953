package translate

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildIdentity: the identity is the same on every call of one build
// and, for a build that names no release and no clean commit (as a test
// binary), carries the executable's stamp, so two such builds never share
// the derived hashes that depend on it.
func TestBuildIdentity(t *testing.T) {
	id := buildIdentity()
	if id == "" || id != buildIdentity() {
		t.Fatalf("identity %q is empty or changes", id)
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build information")
	}
	if info.Main.Sum == "" && !cleanCheckout(info, ok) && !strings.Contains(id, " exe ") && !strings.Contains(id, " pid ") {
		t.Fatalf("identity %q of a development build has no executable stamp", id)
	}
	for _, c := range []struct {
		settings []debug.BuildSetting
		clean    bool
	}{
		{nil, false},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, false}, // modified unknown
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "true"}}, false},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: ""}, {Key: "vcs.modified", Value: "false"}}, false},
		{[]debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}, true},
	} {
		if got := cleanCheckout(&debug.BuildInfo{Settings: c.settings}, true); got != c.clean {
			t.Errorf("cleanCheckout(%v) = %v, want %v", c.settings, got, c.clean)
		}
	}
	if cleanCheckout(nil, false) {
		t.Error("no build information counted as a clean checkout")
	}
}

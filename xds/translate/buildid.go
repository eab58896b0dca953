package translate

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// buildIdentity names the gatehouse build that runs, for the hashes that
// are not hashes of an encoding but stand for one (the proxyless Cluster's,
// derived from the Envoy Cluster's: cluster.go). Such a hash is sound only
// while the derivation is the same, so it carries the build: two replicas
// of one build agree on it (a client moving between them is sent nothing
// again), and an upgrade that changes the derivation changes every such
// hash (its clients are sent those resources again, once) instead of
// leaving a changed resource under an old version.
//
// A released build is named by its module version and checksum, a build
// from a clean checkout by its commit; a build with local changes, or
// without version control information (`go test`, -buildvcs=false), also
// by its executable's size and modification time, so that two such builds
// never share an identity (replicas built that way disagree and resend,
// which costs bytes, never correctness).
var buildIdentity = sync.OnceValue(func() string {
	var b strings.Builder
	info, ok := debug.ReadBuildInfo()
	if ok {
		b.WriteString(info.GoVersion + " " + info.Main.Path + " " + info.Main.Version + " " + info.Main.Sum)
	}
	released := ok && info.Main.Version != "" && info.Main.Version != "(devel)" && info.Main.Sum != ""
	if ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision", "vcs.time", "vcs.modified":
				b.WriteString(" " + s.Key + "=" + s.Value)
			}
		}
	}
	if !released && !cleanCheckout(info, ok) {
		b.WriteString(" " + executableStamp())
	}
	return b.String()
})

// cleanCheckout reports whether the build names a commit with no local
// changes.
func cleanCheckout(info *debug.BuildInfo, ok bool) bool {
	if !ok {
		return false
	}
	rev, modified := false, true
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value != ""
		case "vcs.modified":
			modified = s.Value != "false"
		}
	}
	return rev && !modified
}

// executableStamp is the running executable's size and modification time,
// or its start's uniqueness when they cannot be read (the process id).
func executableStamp() string {
	if exe, err := os.Executable(); err == nil {
		if fi, err := os.Stat(exe); err == nil {
			return "exe " + strconv.FormatInt(fi.Size(), 10) + " " + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
		}
	}
	return "pid " + strconv.Itoa(os.Getpid())
}

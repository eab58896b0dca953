package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// gatehouse runs the CLI in-process and returns its exit status and output.
func gatehouse(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRootHelpNamesVerbsAndDocs(t *testing.T) {
	code, out, _ := gatehouse(t, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"control plane for Envoy", "bootstrap", "version", "--log-level", "--log-format", "README.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := gatehouse(t, "version")
	if code != 0 || !strings.HasPrefix(out, "gatehouse "+version+" (") || !strings.Contains(out, "go1.") {
		t.Errorf("version: exit %d, output %q", code, out)
	}
}

func TestLogFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--log-level", "loud", "version"},
		{"--log-format", "xml", "version"},
	} {
		code, _, errOut := gatehouse(t, args...)
		if code != exitUsage || !strings.Contains(errOut, args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want 2 (usage) and a message naming the flag", args, code, errOut)
		}
	}
	if code, _, errOut := gatehouse(t, "--log-level", "debug", "--log-format", "json", "version"); code != 0 {
		t.Errorf("valid log flags: exit %d, stderr %q", code, errOut)
	}
}

func TestUnknownVerbFails(t *testing.T) {
	code, _, errOut := gatehouse(t, "frobnicate")
	if code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

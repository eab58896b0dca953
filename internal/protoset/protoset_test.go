package protoset

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the committed descriptor sets")

// committed are the descriptor sets the repository ships next to their
// .proto sources (a golden case and an example): each must be what the
// source compiles to, so that nobody edits one without the other.
var committed = []string{
	"../../xds/translate/testdata/in/transcoding/bookstore.proto",
	"../../examples/transcoding/bookstore.proto",
}

func TestCommittedSetsAreCurrent(t *testing.T) {
	for _, p := range committed {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(p)
		want, err := Compile(map[string]string{name: string(src)}, name)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pb := strings.TrimSuffix(p, ".proto") + ".pb"
		if *update {
			if err := os.WriteFile(pb, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(pb)
		if err != nil {
			t.Fatalf("%v (go test ./internal/protoset -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what %s compiles to: run go test ./internal/protoset -update (or go generate)", pb, p)
		}
	}
}

// TestCompileIsDeterministic: the same source gives the same bytes, so
// the committed sets do not churn.
func TestCompileIsDeterministic(t *testing.T) {
	src := map[string]string{"a.proto": `syntax = "proto3"; package a; import "google/api/annotations.proto";
message M { string name = 1; }
service S { rpc Get(M) returns (M) { option (google.api.http) = {get: "/v1/{name=things/*}"}; } }`}
	a, err := Compile(src, "a.proto")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(src, "a.proto")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two compilations differ")
	}
	if _, err := Compile(map[string]string{"bad.proto": "syntax = \"proto3\"; message {"}, "bad.proto"); err == nil {
		t.Error("a broken .proto compiled")
	}
}

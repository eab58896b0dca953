package tree

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

func TestRevision(t *testing.T) {
	f := func(kv ...string) map[string][]byte {
		m := map[string][]byte{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []byte(kv[i+1])
		}
		return m
	}
	same := Revision(f("a", "1", "b", "2"))
	if same != Revision(f("b", "2", "a", "1")) || len(same) != 16 {
		t.Fatalf("revision %q depends on map order or has the wrong length", same)
	}
	// Trees whose paths and contents concatenate alike are still different.
	distinct := []map[string][]byte{f(), f("a", ""), f("ab", "c"), f("a", "bc"), f("a", "b", "c", ""), f("a", "1", "b", "2")}
	seen := map[string]int{}
	for i, m := range distinct {
		r := Revision(m)
		if j, ok := seen[r]; ok {
			t.Errorf("trees %d and %d share revision %s", j, i, r)
		}
		seen[r] = i
	}
}

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"a.yaml", "dir/sub/x.rego", "a..b", "x-y_z.pem"} {
		if err := CheckPath(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for p, want := range map[string]string{
		"":                       "empty file path",
		"/abs":                   "must be relative",
		"../x":                   "must be relative",
		"a/./b":                  "must be relative",
		".":                      "must be relative",
		"a//b":                   "must be relative",
		"a/":                     "must be relative",
		`a\b`:                    "must be relative",
		".gatehouse/lock":        `hidden element ".gatehouse"`,
		"d/.x.yaml":              `hidden element ".x.yaml"`,
		strings.Repeat("a", 513): "longer than 512 bytes",
	} {
		if err := CheckPath(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.20q: err = %v, want %q", p, err, want)
		}
	}
}

func TestApply(t *testing.T) {
	files := map[string][]byte{"a": []byte("1"), "d/b": []byte("2")}
	put := func(p, c string) store.Change { return store.Change{Path: p, Content: []byte(c)} }
	for _, tc := range []struct {
		name    string
		changes []store.Change
		lim     store.Limits
		changed []string
		err     string
	}{
		{name: "write, add, delete", changes: []store.Change{put("a", "9"), put("n", ""), {Path: "d/b"}}, changed: []string{"a", "d/b", "n"}},
		{name: "same content and absent delete change nothing", changes: []store.Change{put("a", "1"), {Path: "zz"}}},
		{name: "twice", changes: []store.Change{put("x", "1"), {Path: "x"}}, err: `"x" is changed twice`},
		{name: "file under a file", changes: []store.Change{put("a/x", "1")}, err: `inside "a", which is a file`},
		{name: "file over a directory", changes: []store.Change{put("d", "1")}, err: `would replace the directory holding "d/b"`},
		{name: "over the file limit", changes: []store.Change{put("c", "123")}, lim: store.Limits{MaxFileSize: 2}, err: "c: 3 bytes, more than the 2"},
		{name: "over the count", changes: []store.Change{put("c", "")}, lim: store.Limits{MaxFiles: 2}, err: "more than 2 files"},
		{name: "bad path", changes: []store.Change{put("../c", "")}, err: "must be relative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, changed, err := Apply(files, tc.changes, tc.lim)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(changed, tc.changed) {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			if len(files) != 2 || string(files["a"]) != "1" {
				t.Fatalf("Apply modified its input: %q", files)
			}
			for _, p := range changed {
				if _, ok := out[p]; ok == (p == "d/b") {
					t.Errorf("%s: present = %v", p, ok)
				}
			}
		})
	}
}

func TestHandEditRecord(t *testing.T) {
	files := map[string][]byte{"a": []byte("1"), "b": []byte("2")}
	first := HandEdit(nil, files, testTime)
	if first.Message != "found when the history started" || !slices.Equal(first.Changed, []string{"a", "b"}) {
		t.Fatalf("first record %+v", first)
	}
	next := HandEdit(first, map[string][]byte{"a": []byte("1"), "c": []byte("3")}, testTime)
	if next.Message != "changed outside gatehouse" || !slices.Equal(next.Changed, []string{"b", "c"}) || next.Author != HandEditAuthor {
		t.Fatalf("next record %+v", next)
	}
}

var testTime = time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)

func TestValidBlobIDAndHidden(t *testing.T) {
	if id := BlobID([]byte("x")); !ValidBlobID(id) {
		t.Errorf("BlobID %s not valid", id)
	}
	for _, bad := range []string{"", "../../etc/shadow", strings.Repeat("A", 64), strings.Repeat("g", 64), strings.Repeat("a", 63)} {
		if ValidBlobID(bad) {
			t.Errorf("%q taken for a blob id", bad)
		}
	}
	for p, want := range map[string]bool{".a": true, "d/.git/x": true, "a/b.yaml": false, "a..b": false, "../x": false} {
		if Hidden(p) != want {
			t.Errorf("Hidden(%q) = %v", p, !want)
		}
	}
}

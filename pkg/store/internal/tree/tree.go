// Package tree holds what every store does the same way: the revision of a
// tree's content, the rules for file paths, applying changes, the limits,
// and the history record that lets ReadAt rebuild a past tree.
package tree

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/store"
)

// Revision returns the revision of a tree's content: a hash over the
// sorted paths and contents, so two stores (or two replicas) holding the
// same files report the same revision, and a hand edit is a new revision.
func Revision(files map[string][]byte) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range SortedPaths(files) {
		// Lengths first, so no two different trees hash the same bytes.
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
		binary.BigEndian.PutUint64(n[:], uint64(len(files[p])))
		h.Write(n[:])
		h.Write(files[p])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BlobID names a file's content in the history (content-addressed, so a
// content kept by many revisions is stored once).
func BlobID(content []byte) string {
	s := sha256.Sum256(content)
	return hex.EncodeToString(s[:])
}

// ValidBlobID reports whether id can be a BlobID: history records are
// read back from the store, and a tampered one must not name a file or
// key outside the history's blobs.
func ValidBlobID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

// Hidden reports whether an element of p starts with "." (files the
// policy loader skips, as every store does).
func Hidden(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, ".") && el != "." && el != ".." {
			return true
		}
	}
	return false
}

// SortedPaths returns the paths of files in order.
func SortedPaths[V any](files map[string]V) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// MaxPathLen bounds a file path.
const MaxPathLen = 512

// CheckPath says why p cannot name a file of a store: it must be a
// slash-separated relative path without "." or ".." elements, and no
// element may start with "." (the policy loader skips hidden files, and
// the directory store keeps its history under a hidden directory).
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty file path")
	case len(p) > MaxPathLen:
		return fmt.Errorf("file path %.40q... is longer than %d bytes", p, MaxPathLen)
	case !fs.ValidPath(p) || p == "." || strings.Contains(p, `\`):
		return fmt.Errorf("file path %q must be relative, slash-separated, without . or .. elements", p)
	}
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, ".") {
			return fmt.Errorf("file path %q has a hidden element %q: the policy loader would skip it", p, el)
		}
	}
	return nil
}

// Counter checks a tree against Limits file by file, as it is read.
type Counter struct {
	store.Limits
	files int
	total int64
}

// Add counts one file of size bytes, or says which limit it breaks.
func (c *Counter) Add(path string, size int64) error {
	c.files++
	c.total += size
	switch {
	case size > c.MaxFileSize:
		return fmt.Errorf("%s: %d bytes, more than the %d a policy file may have: move it out of the policy tree or raise the limit", path, size, c.MaxFileSize)
	case c.files > c.MaxFiles:
		return fmt.Errorf("more than %d files in the policy tree (at %s): remove files that are not policy", c.MaxFiles, path)
	case c.total > c.MaxTotalSize:
		return fmt.Errorf("the policy tree holds more than %d bytes (at %s): remove files that are not policy", c.MaxTotalSize, path)
	}
	return nil
}

// Apply returns files with changes applied and the paths whose content
// actually changed, sorted. files is not modified. Bad paths, a path
// changed twice, or a result over the limits are errors naming the path.
func Apply(files map[string][]byte, changes []store.Change, lim store.Limits) (map[string][]byte, []string, error) {
	out := make(map[string][]byte, len(files)+len(changes))
	for p, c := range files {
		out[p] = c
	}
	seen := map[string]bool{}
	var changed []string
	for _, ch := range changes {
		if err := CheckPath(ch.Path); err != nil {
			return nil, nil, err
		}
		if seen[ch.Path] {
			return nil, nil, fmt.Errorf("file %q is changed twice in one commit", ch.Path)
		}
		seen[ch.Path] = true
		old, had := out[ch.Path]
		switch {
		case ch.Content == nil && had:
			delete(out, ch.Path)
		case ch.Content == nil:
			continue
		case had && string(old) == string(ch.Content):
			continue
		default:
			out[ch.Path] = ch.Content
		}
		changed = append(changed, ch.Path)
	}
	sort.Strings(changed)
	// A directory and a file of one name cannot both exist (a/b and a).
	for _, p := range changed {
		if _, ok := out[p]; !ok {
			continue
		}
		for d := p; strings.Contains(d, "/"); {
			d = d[:strings.LastIndex(d, "/")]
			if _, clash := out[d]; clash {
				return nil, nil, fmt.Errorf("file %q is inside %q, which is a file", p, d)
			}
		}
		for q := range out {
			if strings.HasPrefix(q, p+"/") {
				return nil, nil, fmt.Errorf("file %q would replace the directory holding %q", p, q)
			}
		}
	}
	c := Counter{Limits: lim.WithDefaults()}
	for _, p := range SortedPaths(out) {
		if err := c.Add(p, int64(len(out[p]))); err != nil {
			return nil, nil, err
		}
	}
	return out, changed, nil
}

// Diff lists the paths that differ between two trees, sorted.
func Diff(a, b map[string]string) []string {
	var out []string
	for p, v := range a {
		if w, ok := b[p]; !ok || w != v {
			out = append(out, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// Manifest maps each path of a tree to the BlobID of its content.
func Manifest(files map[string][]byte) map[string]string {
	m := make(map[string]string, len(files))
	for p, c := range files {
		m[p] = BlobID(c)
	}
	return m
}

// Record is one revision as a store keeps it: the entry History lists and
// the manifest ReadAt rebuilds the tree from.
type Record struct {
	ID      string            `json:"id"`
	Time    time.Time         `json:"time"`
	Author  string            `json:"author,omitempty"`
	Message string            `json:"message,omitempty"`
	Changed []string          `json:"changed"`
	Files   map[string]string `json:"files"`
}

// Revision is the entry History lists.
func (r *Record) Revision() store.Revision {
	return store.Revision{ID: r.ID, Time: r.Time, Author: r.Author, Message: r.Message, Changed: append([]string(nil), r.Changed...)}
}

// HandEdit is the record of content found in a store that no commit made
// (a file edited by hand, a key put with the consul CLI): it gets a
// revision of its own when a store next looks, so History says what
// changed and ReadAt can return it.
func HandEdit(prev *Record, files map[string][]byte, now time.Time) *Record {
	m := Manifest(files)
	var before map[string]string
	if prev != nil {
		before = prev.Files
	}
	msg := "changed outside gatehouse"
	if prev == nil {
		msg = "found when the history started"
	}
	return &Record{ID: Revision(files), Time: now.UTC(), Author: HandEditAuthor,
		Message: msg, Changed: Diff(before, m), Files: m}
}

// HandEditAuthor is the author of revisions no commit made.
const HandEditAuthor = "(outside gatehouse)"

// HistoryLimit is how many revisions a store keeps by default.
const HistoryLimit = 100

// Package crs answers questions about the OWASP Core Rule Set embedded in
// the coraza-coreruleset module (which rule ids exist) without pulling in
// Coraza itself, so that policy validation can name an unknown rule id at
// load time.
package crs

import (
	"io/fs"
	"regexp"
	"strconv"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
)

var (
	once sync.Once
	ids  map[int]bool
)

// RuleIDs is every rule id the embedded CRS defines (shared: do not modify).
func RuleIDs() map[int]bool {
	once.Do(func() {
		ids = map[int]bool{}
		re := regexp.MustCompile(`\bid:(\d+)`)
		files, _ := fs.Glob(coreruleset.FS, "@owasp_crs/*.conf")
		for _, f := range files {
			src, err := fs.ReadFile(coreruleset.FS, f)
			if err != nil {
				continue
			}
			for _, m := range re.FindAllSubmatch(src, -1) {
				if id, err := strconv.Atoi(string(m[1])); err == nil {
					ids[id] = true
				}
			}
		}
	})
	return ids
}

// IsRule reports whether id is a rule of the embedded CRS.
func IsRule(id int) bool { return RuleIDs()[id] }

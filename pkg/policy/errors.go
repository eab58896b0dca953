package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// objErrs collects the errors of one object (or of one unparseable file) and
// remembers the line of every field path decoded, so validators can report a
// field by path alone.
type objErrs struct {
	file  string
	line  int    // where the object starts
	ref   string // "Kind/name", or the file name when the object has no usable name
	lines map[string]int
	errs  []lineErr
	// dropped counts errors beyond maxObjectErrors: past that many, more
	// lines only bury the first ones (and cost memory on hostile input).
	dropped int
	// bad holds paths that failed to decode; validation errors at or under
	// them are suppressed, since they would only echo the decode error.
	bad map[string]bool
	// literal holds paths whose value was a literal block scalar ("|"),
	// whose content lines are the file's lines (inline Rego errors).
	literal map[string]bool
}

type lineErr struct {
	line int
	msg  string // fully formatted
}

func newObjErrs(file string, line int) *objErrs {
	return &objErrs{file: file, line: line, ref: file, lines: map[string]int{}, bad: map[string]bool{}, literal: map[string]bool{}}
}

func (o *objErrs) setLine(path string, line int) {
	if _, ok := o.lines[path]; !ok {
		o.lines[path] = line
	}
}

// has reports whether path was present in the YAML (even as null or zero).
func (o *objErrs) has(path string) bool {
	_, ok := o.lines[path]
	return ok
}

// lineOf is the line of path, or of its nearest present ancestor: a missing
// field is reported where its parent is.
func (o *objErrs) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := o.lines[p]; ok {
			return l
		}
	}
	return o.line
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// add reports a validation error on field path at that field's line. It
// stays silent when path, a parent or a child of it failed to decode: the
// check would only echo the decode error (a "sum of weights" after a weight
// that is not a number, "exactly one of" after a mistyped member).
func (o *objErrs) add(path, format string, args ...any) {
	if o.badUnder(path) {
		return
	}
	for p := parentPath(path); p != ""; p = parentPath(p) {
		if o.bad[p] {
			return
		}
	}
	o.addAt(o.lineOf(path), path, format, args...)
}

// badUnder reports whether path or anything under it failed to decode, so
// aggregate checks (a sum of weights) do not echo a decode error.
func (o *objErrs) badUnder(path string) bool {
	for p := range o.bad {
		if p == path || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// decodeErr reports a decoding error and marks path as bad.
func (o *objErrs) decodeErr(line int, path, format string, args ...any) {
	o.bad[path] = true
	o.addAt(line, path, format, args...)
}

const maxObjectErrors = 100

// addAt reports an error at an explicit line.
func (o *objErrs) addAt(line int, path, format string, args ...any) {
	if len(o.errs) >= maxObjectErrors {
		o.dropped++
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	o.errs = append(o.errs, lineErr{line: line, msg: fmt.Sprintf("%s:%d: %s: %s", o.file, line, o.ref, msg)})
}

func (o *objErrs) failed() bool { return len(o.errs) > 0 }

// count is the number of errors reported, including dropped ones.
func (o *objErrs) count() int { return len(o.errs) + o.dropped }

// messages returns the errors ordered by line, then text.
func (o *objErrs) messages() []string {
	sort.SliceStable(o.errs, func(i, j int) bool {
		if o.errs[i].line != o.errs[j].line {
			return o.errs[i].line < o.errs[j].line
		}
		return o.errs[i].msg < o.errs[j].msg
	})
	out := make([]string, len(o.errs), len(o.errs)+1)
	for i, e := range o.errs {
		out[i] = e.msg
	}
	if o.dropped > 0 {
		out = append(out, fmt.Sprintf("%s:%d: %s: %d more errors not shown", o.file, o.line, o.ref, o.dropped))
	}
	return out
}

// Errors returns every error line of the load, ordered by file, line and
// text: what `gatehouse validate` prints.
func (s *Snapshot) Errors() []string {
	var out []string
	for _, r := range s.Rejected {
		out = append(out, r.Errors...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		fi, li := splitPos(out[i])
		fj, lj := splitPos(out[j])
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		return out[i] < out[j]
	})
	return out
}

// splitPos parses the "file:line:" prefix of a formatted error.
func splitPos(msg string) (string, int) {
	for i := 0; i < len(msg); i++ {
		if msg[i] != ':' {
			continue
		}
		j := i + 1
		for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
			j++
		}
		if j > i+1 && j < len(msg) && msg[j] == ':' {
			n, _ := strconv.Atoi(msg[i+1 : j])
			return msg[:i], n
		}
	}
	return msg, 0
}

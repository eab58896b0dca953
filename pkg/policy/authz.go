package policy

import (
	"path"
	"strings"
)

func validateAuthorization(files *fileReader, o *objErrs, a *Authorization) {
	sp := &a.Spec
	if countSet(o.has("spec.rego"), o.has("spec.inline"), sp.Allow != nil) != 1 {
		o.add("spec", "set exactly one of rego (a .rego file), inline (Rego source), allow (simple rules)")
		return
	}
	if sp.Allow != nil {
		if o.has("spec.query") {
			o.add("spec.query", "only applies to Rego (rego or inline)")
		}
		validateAllow(o, sp.Allow)
		return
	}
	query, ok := checkQuery(o, sp.Query)
	var src, file string
	srcPath := "spec.inline"
	if o.has("spec.rego") {
		srcPath = "spec.rego"
		if sp.Rego != "" && path.Ext(sp.Rego) != ".rego" {
			o.add(srcPath, "%q must be a .rego file", sp.Rego)
			return
		}
		data, full, read := files.readRelative(o, srcPath, a.File, sp.Rego)
		if !read {
			return
		}
		src, file = string(data), full
	} else {
		if strings.TrimSpace(sp.Inline) == "" {
			o.add(srcPath, "must hold Rego source (a package and rules)")
			return
		}
		src, file = sp.Inline, a.Ref()+" (inline)"
	}
	res := compileRego(file, src)
	if len(res.errs) > 0 {
		for _, e := range res.errs {
			if srcPath == "spec.inline" {
				o.addAt(inlineLine(o, e.row), srcPath, "Rego line %d: %s", e.row, e.msg)
			} else {
				o.add(srcPath, "%s:%d: %s", file, e.row, e.msg)
			}
		}
		return
	}
	if ok {
		checkQueryTarget(o, query, res)
	}
	sp.RegoSource, sp.RegoFile, sp.RegoVersion = src, file, res.version
}

// inlineLine maps a row of inline Rego to the YAML line holding it, when
// the source is a literal block (inline: |), whose lines are the YAML's
// lines; otherwise the field's own line.
func inlineLine(o *objErrs, row int) int {
	line := o.lineOf("spec.inline")
	if o.literal["spec.inline"] && row > 0 {
		return line + row
	}
	return line
}

func validateAllow(o *objErrs, al *AllowRules) {
	p := "spec.allow"
	if len(al.SourceCIDRs) == 0 && len(al.Groups) == 0 {
		o.add(p, "list at least one condition: sourceCIDRs, groups")
	}
	validateCIDRList(o, p+".sourceCIDRs", al.SourceCIDRs)
	checkGroups(o, p+".groups", al.Groups)
}

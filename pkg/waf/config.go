// Package waf runs the OWASP Core Rule Set through Coraza as an Envoy
// external processing (ext_proc) service. Envoy streams each request's
// headers and body, then the response's headers and body, to Process; the
// service answers CONTINUE, or an ImmediateResponse 403 when the rules block.
//
// External processing (not ext_authz) because it is the only Envoy service
// API that sees response headers and bodies, which the CRS 95x data-leakage
// rules need, and it streams body chunks instead of one size-capped buffer.
package waf

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/pkg/waf/crs"
)

// Policy is one compiled WAF configuration, selected per route.
type Policy struct {
	// ParanoiaLevel is CRS's blocking paranoia level, 1 (default) to 4.
	ParanoiaLevel int
	// InboundThreshold and OutboundThreshold are CRS's anomaly score
	// thresholds (defaults 5 and 4, CRS's own).
	InboundThreshold, OutboundThreshold int
	// DetectionOnly evaluates and reports but never blocks.
	DetectionOnly bool
	// ExcludeIDs and ExcludeTags remove rules everywhere.
	ExcludeIDs  []int
	ExcludeTags []string
	// PathExclusions remove rules for requests whose path starts with Prefix.
	PathExclusions []PathExclusion
	// RequestBodyLimit and ResponseBodyLimit bound the bytes inspected
	// (defaults 128 KiB and 512 KiB). Requests over the limit are rejected
	// (413) unless DetectionOnly; responses are inspected partially.
	RequestBodyLimit, ResponseBodyLimit int
	// InspectResponse turns on the response phases (RESPONSE-95x rules).
	InspectResponse bool
	// extra directives, appended after the CRS setup and before the rules;
	// used by the regression suite for its test configuration.
	extra string
}

// PathExclusion removes rules by id or tag for one path prefix.
type PathExclusion struct {
	Prefix string
	IDs    []int
	Tags   []string
}

const (
	defaultRequestBodyLimit  = 128 << 10
	defaultResponseBodyLimit = 512 << 10
	// maxBodyLimit caps what a policy may ask the service to buffer per
	// stream; Coraza keeps the inspected body in memory.
	maxBodyLimit = 16 << 20
)

var safePath = regexp.MustCompile(`^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$`)
var safeTag = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// Validate reports the first field that cannot be compiled, with its name.
func (p Policy) Validate() error {
	if p.ParanoiaLevel != 0 && (p.ParanoiaLevel < 1 || p.ParanoiaLevel > 4) {
		return fmt.Errorf("paranoiaLevel: %d is not between 1 and 4", p.ParanoiaLevel)
	}
	if p.InboundThreshold < 0 || p.OutboundThreshold < 0 {
		return fmt.Errorf("anomaly thresholds must not be negative")
	}
	if p.RequestBodyLimit < 0 || p.RequestBodyLimit > maxBodyLimit {
		return fmt.Errorf("requestBodyLimit: %d is not between 0 and %d", p.RequestBodyLimit, maxBodyLimit)
	}
	if p.ResponseBodyLimit < 0 || p.ResponseBodyLimit > maxBodyLimit {
		return fmt.Errorf("responseBodyLimit: %d is not between 0 and %d", p.ResponseBodyLimit, maxBodyLimit)
	}
	ids := crsRuleIDs()
	for i, id := range p.ExcludeIDs {
		if !ids[id] {
			return fmt.Errorf("exclude.ids[%d]: %d is not a rule of the Core Rule Set", i, id)
		}
	}
	for i, tag := range p.ExcludeTags {
		if !safeTag.MatchString(tag) {
			return fmt.Errorf("exclude.tags[%d]: %q is not a tag (letters, digits, . _ / -)", i, tag)
		}
	}
	for i, pe := range p.PathExclusions {
		// The prefix lands inside a SecRule operator argument: refuse
		// anything that could close the quoted string and add directives.
		if !safePath.MatchString(pe.Prefix) || strings.ContainsAny(pe.Prefix, `"\`) {
			return fmt.Errorf("exclude.paths[%d].prefix: %q is not a URL path", i, pe.Prefix)
		}
		if len(pe.IDs) == 0 && len(pe.Tags) == 0 {
			return fmt.Errorf("exclude.paths[%d]: names no rule id and no tag", i)
		}
		for j, id := range pe.IDs {
			if !ids[id] {
				return fmt.Errorf("exclude.paths[%d].ids[%d]: %d is not a rule of the Core Rule Set", i, j, id)
			}
		}
		for j, tag := range pe.Tags {
			if !safeTag.MatchString(tag) {
				return fmt.Errorf("exclude.paths[%d].tags[%d]: %q is not a tag", i, j, tag)
			}
		}
	}
	return nil
}

// directives renders the SecLang configuration. The order matters: Coraza's
// recommended base, our overrides, CRS setup, the variables CRS reads in
// phase 1 (set by SecAction before the rules that read them), path
// exclusions (ctl actions must run before the rules they remove), the CRS
// rules, and last the configure-time removals (which only see rules already
// defined).
func (p Policy) directives() string {
	var b strings.Builder
	b.WriteString("Include @coraza.conf-recommended\n")
	if p.DetectionOnly {
		b.WriteString("SecRuleEngine DetectionOnly\n")
	} else {
		b.WriteString("SecRuleEngine On\n")
	}
	reqLimit, respLimit := orDefault(p.RequestBodyLimit, defaultRequestBodyLimit), orDefault(p.ResponseBodyLimit, defaultResponseBodyLimit)
	fmt.Fprintf(&b, "SecRequestBodyLimit %d\nSecRequestBodyInMemoryLimit %d\n", reqLimit, reqLimit)
	if p.InspectResponse {
		fmt.Fprintf(&b, "SecResponseBodyAccess On\nSecResponseBodyLimit %d\n", respLimit)
		b.WriteString("SecResponseBodyMimeType text/plain text/html text/xml application/json\n")
	} else {
		b.WriteString("SecResponseBodyAccess Off\n")
	}
	b.WriteString("Include @crs-setup.conf.example\n")
	// CRS's setup sets the default action of phases 1 and 2 only, and
	// Coraza's default for the others does not log (ModSecurity's does):
	// without these, response and correlation rules match but never reach
	// the access log (found by the CRS regression suite).
	b.WriteString("SecDefaultAction \"phase:3,log,auditlog,pass\"\nSecDefaultAction \"phase:4,log,auditlog,pass\"\nSecDefaultAction \"phase:5,log,auditlog,pass\"\n")
	fmt.Fprintf(&b, "SecAction \"id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d\"\n", orDefault(p.ParanoiaLevel, 1))
	fmt.Fprintf(&b, "SecAction \"id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=%d\"\n",
		orDefault(p.InboundThreshold, 5), orDefault(p.OutboundThreshold, 4))
	b.WriteString(p.extra)
	for i, pe := range p.PathExclusions {
		var ctl []string
		for _, id := range pe.IDs {
			ctl = append(ctl, "ctl:ruleRemoveById="+strconv.Itoa(id))
		}
		for _, tag := range pe.Tags {
			ctl = append(ctl, "ctl:ruleRemoveByTag="+tag)
		}
		// ids 10000-10999 are reserved for the local site by CRS's id ranges.
		fmt.Fprintf(&b, "SecRule REQUEST_FILENAME \"@beginsWith %s\" \"id:%d,phase:1,pass,t:none,nolog,%s\"\n", pe.Prefix, 10000+i, strings.Join(ctl, ","))
	}
	b.WriteString("Include @owasp_crs/*.conf\n")
	for _, id := range p.ExcludeIDs {
		fmt.Fprintf(&b, "SecRuleRemoveById %d\n", id)
	}
	for _, tag := range p.ExcludeTags {
		fmt.Fprintf(&b, "SecRuleRemoveByTag %s\n", tag)
	}
	return b.String()
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// crsRuleIDs lists every rule id defined by the embedded CRS, so an
// exclusion naming a rule that does not exist (a typo, or a rule removed in
// a CRS upgrade) is an error at load time instead of a silent no-op.
func crsRuleIDs() map[int]bool { return crs.RuleIDs() }

// sortedIDs returns ids in ascending order (deterministic logs and metadata).
func sortedIDs(set map[int]bool) []int {
	out := make([]int, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

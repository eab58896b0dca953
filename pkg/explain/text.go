package explain

import (
	"fmt"
	"io"
	"strings"
)

// Width is the column limit of the text form.
const Width = 100

// WriteText writes r for a terminal: every line fits Width columns (long
// values are wrapped at spaces, or cut where they have none).
func WriteText(w io.Writer, r *Result) error {
	p := &printer{}
	q := r.Request
	p.field("request", fmt.Sprintf("%s %s%s (%s client, Gateway %s)", q.Method, q.Host, q.fullPath(), q.Client, q.Gateway))
	if r.Listener != "" {
		s := r.Listener
		if r.FilterChain != "" {
			s += ", filter chain " + r.FilterChain
		}
		if r.RouteConfig != "" {
			s += ", route table " + r.RouteConfig
		}
		p.field("listener", s)
	}
	if r.VirtualHost != "" {
		p.field("host", fmt.Sprintf("%s -> virtual host %s: %s", r.Authority, r.VirtualHost, r.VirtualHostReason))
	}
	for _, n := range r.Notes {
		p.field("note", n)
	}
	if len(r.Considered) > 0 {
		p.line("")
		p.line("routes tried, in order:")
		for i, c := range r.Considered {
			verdict := "skipped: "
			if c.Matched {
				verdict = "MATCHED: "
			}
			p.wrap(fmt.Sprintf("  %2d. %s ", i+1, c.Route), "        ", verdict+c.Reason)
		}
	}
	if r.Route == nil {
		p.line("")
		p.wrap("NO ROUTE: ", "    ", r.NoMatch)
		return p.flush(w)
	}
	rt := r.Route
	p.line("")
	head := "route " + rt.Name
	if rt.Policy != "" {
		head += " (" + rt.Policy
		if rt.Source != "" {
			head += ", " + rt.Source
		}
		head += ")"
	}
	p.line(head)
	if rt.Action != "forward" {
		p.field("  action", rt.Action)
	}
	for i, b := range rt.Backends {
		label := "  backends"
		if i > 0 {
			label = ""
		}
		s := b.Cluster
		if b.Service != "" {
			s += " (Service " + b.Service + ")"
		}
		s += fmt.Sprintf(" weight %d, %.4g%% of requests", b.Weight, b.Share)
		if b.Endpoints != nil {
			s += fmt.Sprintf(", %d endpoint(s) now", *b.Endpoints)
		}
		p.field(label, s)
	}
	p.fieldIf("  timeout", rt.Timeout)
	p.fieldIf("  retries", rt.Retries)
	p.fieldIf("  rewrite", rt.Rewrite)
	if tc := rt.Transcoding; tc != nil {
		if tc.Refused != "" {
			p.field("  gRPC call", "none: the transcoder refuses "+tc.Refused)
		} else {
			p.field("  gRPC call", tc.GRPCMethod+" (rule "+tc.Binding+")")
		}
	}
	if len(rt.Filters) > 0 {
		p.line("")
		p.line("HTTP filters, in order:")
		for _, f := range rt.Filters {
			p.wrap("  "+pad(strings.TrimPrefix(f.Filter, "envoy.filters.http."), 26)+" ", strings.Repeat(" ", 29), f.Effect)
		}
	}
	if a := rt.Authentication; a != nil && (len(a.Accepts) > 0 || a.Anonymous) {
		p.line("")
		p.line("authentication: any one of")
		for _, c := range a.Accepts {
			p.wrap("  "+pad(c.Name, 20)+" "+pad(c.Kind, 7)+" ", strings.Repeat(" ", 31), c.Detail)
		}
		if a.Anonymous {
			p.line("  or none: a request without a credential goes on")
		} else {
			p.line("  a request with none: 401")
		}
	}
	if a := rt.Authorization; a != nil {
		p.line("")
		mode := "fails closed"
		if a.FailOpen {
			mode = "fails open on an evaluation error or timeout"
		}
		p.wrap("authorization: ", "  ", fmt.Sprintf("%s (%s): %s", a.Name, mode, a.Rules))
		if len(a.SourceCIDRs) > 0 {
			s := "source CIDRs (Envoy RBAC): " + strings.Join(a.SourceCIDRs, ", ")
			if a.ClientIP != "" {
				s += "; client " + a.ClientIP
			}
			p.wrap("  ", "    ", s)
		}
	}
	p.extProc(rt)
	if len(rt.RateLimits) > 0 {
		p.line("")
		p.line("rate limits (descriptors Envoy sends; over a limit: 429):")
		for _, c := range rt.RateLimits {
			p.wrap("  ", "    ", fmt.Sprintf("%s: domain %s, stage %d, service unreachable: %s",
				strings.TrimPrefix(c.Filter, "envoy.filters.http."), c.Domain, c.Stage, c.FailureMode))
			for _, d := range c.Descriptors {
				p.descriptor(d)
			}
		}
	}
	if len(rt.LocalRateLimits) > 0 {
		p.line("")
		p.line("local rate limits (per Envoy):")
		for _, l := range rt.LocalRateLimits {
			p.descriptor(l.Descriptor)
			p.wrap("      bucket: ", "        ", l.Bucket)
		}
	}
	return p.flush(w)
}

// extProc prints what gatehouse's WAF, validator and transformation
// service do on the route (extproc.go).
func (p *printer) extProc(rt *RouteInfo) {
	if f := rt.Firewall; f != nil {
		p.line("")
		s := fmt.Sprintf("Firewall %s", f.Name)
		if f.From != "" {
			s += " (from " + f.From + ")"
		}
		s += fmt.Sprintf(": %s, paranoia level %d, anomaly thresholds inbound %d, outbound %d", f.Mode, f.ParanoiaLevel, f.Inbound, f.Outbound)
		if f.InspectResponse {
			s += ", responses inspected"
		}
		p.wrap("web application firewall: ", "  ", s+"; fails "+f.FailureMode)
	}
	if v := rt.Validation; v != nil {
		p.line("")
		p.wrap("request validation: ", "  ", fmt.Sprintf("%s (from %s): mode %s, responses %s, body up to %d KiB, nesting up to %d; fails closed",
			v.Document, v.From, v.Mode, v.Responses, v.MaxBodyKB, v.MaxDepth))
	}
	if x := rt.Transformation; x != nil {
		p.line("")
		s := "Transformation " + x.Name + ": request " + orNone(strings.Join(x.Request, ", ")) + "; response " + orNone(strings.Join(x.Response, ", "))
		p.wrap("transformation: ", "  ", s)
	}
}

func (p *printer) descriptor(d Descriptor) {
	es := make([]string, len(d.Entries))
	for i, e := range d.Entries {
		es[i] = e.Key + "=" + e.Value
	}
	sent := "[sent] "
	if d.Sent != "yes" {
		sent = "[" + d.Sent + "] "
	}
	p.wrap("    - ", "      ", sent+strings.Join(es, ", "))
	if d.Limit != "" {
		p.wrap("      counts against ", "        ", d.Limit)
	}
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return s + strings.Repeat(" ", n-len(s))
}

type printer struct{ b strings.Builder }

func (p *printer) line(s string) {
	p.b.WriteString(s)
	p.b.WriteByte('\n')
}

func (p *printer) field(label, value string) {
	if label == "" {
		p.wrap(strings.Repeat(" ", 12), strings.Repeat(" ", 14), value)
		return
	}
	p.wrap(pad(label, 11)+" ", strings.Repeat(" ", 14), value)
}

func (p *printer) fieldIf(label, value string) {
	if value != "" {
		p.field(label, value)
	}
}

// wrap writes first+text, breaking at spaces before Width and indenting
// continuation lines with rest; a word longer than a line is cut.
func (p *printer) wrap(first, rest, text string) {
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > Width {
			p.line(line)
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		for len(line)+len(word) > Width {
			n := Width - len(line)
			if n <= 0 { // the label alone fills the line
				p.line(line)
				line = rest
				continue
			}
			p.line(line + word[:n])
			word = word[n:]
			line = rest
		}
		line += word
		empty = false
	}
	p.line(line)
}

func (p *printer) flush(w io.Writer) error {
	_, err := io.WriteString(w, p.b.String())
	return err
}

// WriteDiffText writes a plan of Envoy resource changes, each line within
// Width columns.
func WriteDiffText(w io.Writer, cs []Change) error {
	p := &printer{}
	group := ""
	for _, c := range cs {
		if c.Group != group {
			group = c.Group
			p.line("Gateway " + strings.Replace(group, "/", " (", 1) + " clients):")
		}
		sign := map[string]string{"added": "+", "removed": "-", "changed": "~"}[c.Op]
		p.wrap(fmt.Sprintf("  %s %s ", sign, c.Type), "      ", c.Name)
		for _, f := range c.Fields {
			p.wrap("      "+f.Path+": ", "        ", fmt.Sprintf("%s -> %s", orNone(f.Before), orNone(f.After)))
		}
		if c.More > 0 {
			p.line(fmt.Sprintf("      ... and %d more field(s)", c.More))
		}
	}
	p.line(Summary(cs))
	return p.flush(w)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

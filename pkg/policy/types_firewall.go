package policy

// ---- Firewall ----

// Firewall runs the OWASP Core Rule Set (through Coraza, in gatehouse's
// WAF service, pkg/waf) on the requests of the Routes that use it: a Route
// names it (firewall: NAME) or inherits a Gateway's defaults.firewall, and
// firewall: none turns it off for one Route.
type Firewall struct {
	Meta `yaml:",inline"`
	Spec FirewallSpec `yaml:"spec"`
}

type FirewallSpec struct {
	// ParanoiaLevel is CRS's blocking paranoia level: 1 (default) to 4.
	ParanoiaLevel int `yaml:"paranoiaLevel"`
	// AnomalyThresholds are CRS's anomaly score thresholds (defaults
	// inbound 5, outbound 4: CRS's own).
	AnomalyThresholds *AnomalyThresholds `yaml:"anomalyThresholds"`
	// DetectionOnly evaluates and reports (access log, dynamic metadata)
	// but never blocks.
	DetectionOnly bool                `yaml:"detectionOnly"`
	Exclusions    *FirewallExclusions `yaml:"exclusions"`
	Limits        *FirewallLimits     `yaml:"limits"`
	// InspectResponse also sends response headers and bodies to the WAF
	// (CRS's RESPONSE-95x data-leakage rules).
	InspectResponse bool `yaml:"inspectResponse"`
	// FailureMode is what Envoy does when the WAF cannot be reached or
	// does not answer in time: "" or deny refuses the request (fail
	// closed), allow lets it through uninspected.
	FailureMode string `yaml:"failureMode"`
}

type AnomalyThresholds struct {
	Inbound  int `yaml:"inbound"`
	Outbound int `yaml:"outbound"`
}

// FirewallExclusions remove CRS rules everywhere (IDs, Tags) or for the
// requests whose path starts with a prefix (Paths).
type FirewallExclusions struct {
	IDs   []int                   `yaml:"ids"`
	Tags  []string                `yaml:"tags"`
	Paths []FirewallPathExclusion `yaml:"paths"`
}

type FirewallPathExclusion struct {
	Prefix string   `yaml:"prefix"`
	IDs    []int    `yaml:"ids"`
	Tags   []string `yaml:"tags"`
}

// FirewallLimits bound the body bytes the WAF inspects. A request body over
// the limit is refused (413), never passed uninspected.
type FirewallLimits struct {
	RequestBodyKB  int `yaml:"requestBodyKB"`  // default 128
	ResponseBodyKB int `yaml:"responseBodyKB"` // default 512; needs inspectResponse
}

// FirewallNone as a Route's firewall turns the Gateway default off. It is
// therefore not a valid Firewall name.
const FirewallNone = "none"

// MaxFirewallBodyKB caps a Firewall's body limits: the WAF keeps the
// inspected body in memory, per request (pkg/waf maxBodyLimit).
const MaxFirewallBodyKB = 16 << 10

// EffectiveFirewall is the Firewall name that applies to r on Gateway g,
// or "" for none: the Route's own, else g's default; none turns it off.
func (r *Route) EffectiveFirewall(g *Gateway) string {
	fw := r.Spec.Firewall
	if fw == "" && g != nil && g.Spec.Defaults != nil {
		fw = g.Spec.Defaults.Firewall
	}
	if fw == FirewallNone {
		return ""
	}
	return fw
}

// Package envoy renders the bootstrap files that connect a proxy to gatehouse:
// an Envoy v3 bootstrap (YAML) and grpc-go's xDS bootstrap (JSON) for
// proxyless gRPC clients. Both name the Gateway as node.cluster, which is how
// gatehouse decides which configuration a proxy receives.
package envoy

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"text/template"
)

// Defaults used by DefaultOptions and documented on the CLI flags.
const (
	DefaultXDSAddr        = "127.0.0.1:18000"
	DefaultAdminPort      = 9901
	DefaultStatsPort      = 19001
	DefaultStatsAddr      = "0.0.0.0"
	DefaultMaxHeapBytes   = 1 << 30 // 1 GiB
	DefaultMaxConnections = 50000
)

// xDS protocols an Envoy bootstrap can select (Options.XDSProtocol).
const (
	// ProtocolDelta is incremental ADS (api_type DELTA_GRPC): after the
	// initial sync a change sends only the resources that changed.
	ProtocolDelta = "delta"
	// ProtocolSotW is state-of-the-world ADS (api_type GRPC): a change
	// re-sends every resource of its type.
	ProtocolSotW = "sotw"
)

// Options describe one proxy's bootstrap.
type Options struct {
	Gateway string // Gateway name; becomes node.cluster
	NodeID  string // node.id; empty means "<gateway>-envoy" or "<gateway>-grpc"
	// XDSAddrs are host:port of gatehouse's ADS server, one per replica.
	// Envoy balances its one ADS stream over all of them and, when the
	// replica it is connected to goes away, reconnects to another after its
	// retry back-off; a grpc-go client uses the first and falls back to the
	// next ones (see GRPCBootstrap).
	XDSAddrs  []string
	AdminPort int // Envoy admin port on 127.0.0.1
	// StatsPort (Envoy format only) is the port of a listener serving only
	// GET /stats/prometheus, on StatsAddr; 0 leaves it out.
	StatsPort      int
	StatsAddr      string
	MaxHeapBytes   uint64 // overload manager fixed_heap limit
	MaxConnections int64  // global downstream connection limit
	// UpstreamCAFile (grpc format only) is the CA bundle proxyless clients
	// use to verify upstreams of Services with tls.
	UpstreamCAFile string
	// XDSProtocol (Envoy format only) is ProtocolDelta or ProtocolSotW;
	// empty means ProtocolDelta. Proxyless gRPC clients always use state of
	// the world (grpc-go has no delta client).
	XDSProtocol string
	// TLS, when set, makes the proxy connect to gatehouse over TLS with
	// these files on its host (gatehouse serve --tls-cert, --client-ca).
	TLS *TLSFiles
}

// TLSFiles are the proxy's TLS files. CAFile verifies gatehouse's
// certificate, which must name the host of XDSAddr (DNS or IP SAN);
// CertFile and KeyFile are the proxy's client certificate (mTLS), naming
// its Gateway; both empty for TLS without client certificates.
type TLSFiles struct {
	CAFile, CertFile, KeyFile string
}

// DefaultOptions returns the options `gatehouse bootstrap` uses without flags.
func DefaultOptions(gateway string) Options {
	return Options{
		Gateway:        gateway,
		XDSAddrs:       []string{DefaultXDSAddr},
		AdminPort:      DefaultAdminPort,
		StatsPort:      DefaultStatsPort,
		StatsAddr:      DefaultStatsAddr,
		MaxHeapBytes:   DefaultMaxHeapBytes,
		MaxConnections: DefaultMaxConnections,
		XDSProtocol:    ProtocolDelta,
	}
}

// Same rule as object names in the policy model.
var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

//go:embed bootstrap.yaml.tmpl
var envoyTemplateText string

var envoyTemplate = template.Must(template.New("bootstrap").
	Funcs(template.FuncMap{"q": quote}).
	Option("missingkey=error").
	Parse(envoyTemplateText))

// quote makes any string a safe YAML scalar: a JSON string is a valid YAML
// double-quoted scalar.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// view is what the template sees: validated options plus derived fields.
type view struct {
	Options
	XDS            []hostPort
	XDSClusterType string
	// XDSSNI is the server name Envoy sends to gatehouse and XDSSANs the
	// names its certificate may carry (tlsNames).
	XDSSNI  string
	XDSSANs []san
	// ADSAPIType is ads_config.api_type. Envoy picks its delta or state-of-
	// the-world mux from it alone (Envoy:
	// source/common/config/xds_manager_impl.cc).
	ADSAPIType string
}

func (o Options) resolve(defaultIDSuffix string) (view, error) {
	if !nameRE.MatchString(o.Gateway) {
		return view{}, fmt.Errorf("gateway %q: must be a Gateway name (lower-case letters, digits and '-', at most 63)", o.Gateway)
	}
	if o.NodeID == "" {
		o.NodeID = o.Gateway + defaultIDSuffix
	}
	if len(o.XDSAddrs) == 0 {
		return view{}, fmt.Errorf("xds address: give at least one host:port")
	}
	xds := make([]hostPort, 0, len(o.XDSAddrs))
	seen := map[string]bool{}
	for _, a := range o.XDSAddrs {
		hp, err := parseHostPort(a)
		if err != nil {
			return view{}, err
		}
		if seen[a] {
			return view{}, fmt.Errorf("xds address %q: listed twice", a)
		}
		seen[a] = true
		xds = append(xds, hp)
	}
	if o.AdminPort < 1 || o.AdminPort > 65535 {
		return view{}, fmt.Errorf("admin port %d: must be 1-65535", o.AdminPort)
	}
	if o.StatsPort != 0 {
		if o.StatsPort < 1 || o.StatsPort > 65535 {
			return view{}, fmt.Errorf("stats port %d: must be 1-65535, or 0 for no stats listener", o.StatsPort)
		}
		if o.StatsPort == o.AdminPort {
			return view{}, fmt.Errorf("stats port %d: is the admin port; pick another", o.StatsPort)
		}
		if _, err := netip.ParseAddr(o.StatsAddr); err != nil {
			return view{}, fmt.Errorf("stats address %q: must be an IP address (0.0.0.0 for every interface)", o.StatsAddr)
		}
	}
	if o.MaxHeapBytes == 0 {
		return view{}, fmt.Errorf("max heap: must be positive")
	}
	if o.MaxConnections <= 0 {
		return view{}, fmt.Errorf("max connections %d: must be positive", o.MaxConnections)
	}
	// IPs need no resolver; a name (a compose service, a k8s Service) is
	// re-resolved by STRICT_DNS when gatehouse moves (STRICT_DNS also takes
	// IP literals, so one name among the addresses decides).
	kind := "STATIC"
	for _, hp := range xds {
		if _, err := netip.ParseAddr(hp.Host); err != nil {
			kind = "STRICT_DNS"
		}
	}
	if t := o.TLS; t != nil && (t.CAFile == "" || (t.CertFile == "") != (t.KeyFile == "")) {
		return view{}, fmt.Errorf("tls: the CA file is required, and the certificate and key files go together")
	}
	sni, sans := tlsNames(xds)
	api := ""
	switch o.XDSProtocol {
	case "", ProtocolDelta:
		api = "DELTA_GRPC"
	case ProtocolSotW:
		api = "GRPC"
	default:
		return view{}, fmt.Errorf("xds protocol %q: want %s or %s", o.XDSProtocol, ProtocolDelta, ProtocolSotW)
	}
	return view{Options: o, XDS: xds, XDSClusterType: kind, XDSSNI: sni, XDSSANs: sans, ADSAPIType: api}, nil
}

// san is one subject alt name a gatehouse certificate may carry.
type san struct {
	Type string // DNS or IP_ADDRESS
	Host string
}

// tlsNames are the SNI Envoy sends to gatehouse (a single DNS host's name;
// none for an IP, which is not a valid SNI name, or for several replicas,
// whose endpoints share one cluster) and the SANs it accepts: every
// address's host, so each replica's certificate names its own.
func tlsNames(xds []hostPort) (string, []san) {
	var sans []san
	dns := 0
	for _, hp := range xds {
		if _, err := netip.ParseAddr(hp.Host); err == nil {
			sans = append(sans, san{"IP_ADDRESS", hp.Host})
		} else {
			sans = append(sans, san{"DNS", hp.Host})
			dns++
		}
	}
	if len(xds) == 1 && dns == 1 {
		return xds[0].Host, sans
	}
	return "", sans
}

// hostPort is one xDS server address, validated.
type hostPort struct {
	Host string
	Port int
}

func parseHostPort(a string) (hostPort, error) {
	host, portText, err := net.SplitHostPort(a)
	if err != nil {
		return hostPort{}, fmt.Errorf("xds address %q: %w", a, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return hostPort{}, fmt.Errorf("xds address %q: port must be 1-65535", a)
	}
	if host == "" {
		return hostPort{}, fmt.Errorf("xds address %q: host is empty", a)
	}
	return hostPort{Host: host, Port: port}, nil
}

// EnvoyBootstrap renders a complete Envoy v3 bootstrap in YAML.
func EnvoyBootstrap(o Options) ([]byte, error) {
	v, err := o.resolve("-envoy")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := envoyTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("render envoy bootstrap: %w", err)
	}
	return buf.Bytes(), nil
}

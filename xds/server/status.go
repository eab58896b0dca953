package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc/peer"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// ProxyStatus is what gatehouse knows about one connected ADS stream.
type ProxyStatus struct {
	NodeID         string    `json:"node_id"`
	Gateway        string    `json:"gateway"`
	Client         string    `json:"client"`
	UserAgent      string    `json:"user_agent"`
	Address        string    `json:"address"`
	ConnectedSince time.Time `json:"connected_since"`
	// Note explains why the proxy gets nothing, e.g. `no Gateway named "x"`.
	Note string `json:"note,omitempty"`
	// Warning says what gatehouse holds back from this proxy and why.
	Warning string `json:"warning,omitempty"`
	// Types is keyed by short type name (listeners, routes, clusters,
	// endpoints, secrets); a type appears once the proxy asked for it.
	Types map[string]TypeStatus `json:"types"`
}

// TypeStatus is one resource type's sync state on one stream.
type TypeStatus struct {
	Sent  string `json:"sent"`  // version of the last response sent
	Acked string `json:"acked"` // version the client last reported holding
	NACK  *NACK  `json:"nack,omitempty"`
	NACKs int    `json:"nacks"` // NACKs on this stream
}

// NACK is the last response a client rejected.
type NACK struct {
	Error   string    `json:"error"`
	Version string    `json:"version"` // the version rejected ("" if unknown)
	At      time.Time `json:"at"`
}

// recentResponses is how many (nonce, version) pairs are kept per type to
// name the version a NACK rejects; clients answer the latest response, so a
// few cover reordering.
const recentResponses = 4

type sentResponse struct{ nonce, version string }

type typeTrack struct {
	TypeStatus
	recent [recentResponses]sentResponse
	next   int
}

func (t *typeTrack) versionOf(nonce string) (string, bool) {
	for _, r := range t.recent {
		if r.nonce == nonce && nonce != "" {
			return r.version, true
		}
	}
	return "", false
}

type proxy struct {
	status  ProxyStatus // Types unused here; built from types on read
	key     translate.GroupKey
	hasNode bool
	types   [numTypes]*typeTrack
	// noSecrets: the peer is off loopback on a plaintext connection, so
	// its secrets requests are withheld (see secrets.go).
	noSecrets bool
}

// errNotADS is returned for streams other than aggregated SotW ones, which
// gatehouse does not register; it guards against a caller registering the
// go-control-plane server's other services.
var errNotADS = errors.New("gatehouse serves xDS over ADS (StreamAggregatedResources) only")

// tracker implements go-control-plane's server callbacks: it records every
// stream's node, what was sent, acknowledged and rejected, and feeds the
// metrics. Callbacks run synchronously on each stream's goroutine.
type tracker struct {
	pub     *Publisher
	metrics *serverMetrics
	now     func() time.Time
	// onUnknown, if set, hears of every stream whose node names no
	// published group (called with the tracker's lock held: keep it short).
	onUnknown func(nodeID, gateway, reason string)
	// secretsAllowed decides per stream whether TLS keys may be sent.
	secretsAllowed func(*peer.Peer) bool

	mu      sync.Mutex
	proxies map[int64]*proxy
}

func newTracker(pub *Publisher, m *serverMetrics) *tracker {
	return &tracker{pub: pub, metrics: m, now: time.Now, proxies: map[int64]*proxy{}, secretsAllowed: secretsAllowed}
}

func (t *tracker) OnStreamOpen(ctx context.Context, id int64, typeURL string) error {
	if typeURL != resource.AnyType {
		return errNotADS
	}
	p := &proxy{status: ProxyStatus{ConnectedSince: t.now().UTC()}}
	pr, _ := peer.FromContext(ctx)
	if pr != nil && pr.Addr != nil {
		p.status.Address = pr.Addr.String()
	}
	p.noSecrets = !t.secretsAllowed(pr)
	t.mu.Lock()
	t.proxies[id] = p
	t.mu.Unlock()
	return nil
}

func (t *tracker) OnStreamClosed(id int64, _ *corev3.Node) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.proxies[id]
	delete(t.proxies, id)
	if p == nil || !p.hasNode {
		return
	}
	t.metrics.connected.WithLabelValues(p.key.Gateway, string(p.key.Client)).Dec()
	for _, o := range t.proxies {
		if o.hasNode && o.key == p.key {
			return
		}
	}
	// Still under t.mu, so that a new stream of this key cannot register
	// its watch between the check above and the cache forgetting the key.
	t.pub.forgetIfUnpublished(p.key)
}

func (t *tracker) OnStreamRequest(id int64, req *discoveryv3.DiscoveryRequest) error {
	now := t.now().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.proxies[id]
	if p == nil {
		// Not opened through OnStreamOpen: nothing says the peer may
		// have secrets.
		withholdSecrets(req)
		return nil
	}
	if !p.hasNode && req.GetNode() != nil {
		t.setNode(p, req.GetNode())
	} else if p.status.Note != "" {
		// The Gateway may have been published since.
		p.status.Note = t.pub.unknownReason(p.key)
	}
	if p.noSecrets && withholdSecrets(req) {
		p.status.Warning = secretsWithheldNote(p.status.Address)
	}
	ti := typeIndex(req.GetTypeUrl())
	if ti < 0 {
		return nil
	}
	tt := p.types[ti]
	if tt == nil {
		tt = &typeTrack{}
		p.types[ti] = tt
	}
	if req.GetErrorDetail() != nil {
		rejected, known := tt.versionOf(req.GetResponseNonce())
		tt.NACKs++
		tt.NACK = &NACK{Error: req.GetErrorDetail().GetMessage(), Version: rejected, At: now}
		tt.Acked = req.GetVersionInfo() // a NACK carries the last good version
		t.metrics.nacks.WithLabelValues(typeNames[ti]).Inc()
		if known {
			// go-control-plane answers any request whose version differs
			// from the snapshot's at once, so a NACK (which carries the old
			// version) would get the rejected resources again, in a loop.
			// Presenting the rejected version parks the request until the
			// snapshot changes.
			req.VersionInfo = rejected
		}
		return nil
	}
	if v := req.GetVersionInfo(); v != "" {
		tt.Acked = v
	}
	return nil
}

func (t *tracker) setNode(p *proxy, n *corev3.Node) {
	p.hasNode = true
	p.key = nodeKey(n)
	p.status.NodeID = n.GetId()
	p.status.Gateway = p.key.Gateway
	p.status.Client = string(p.key.Client)
	p.status.UserAgent = userAgent(n)
	t.metrics.connected.WithLabelValues(p.key.Gateway, string(p.key.Client)).Inc()
	if p.status.Note = t.pub.unknownReason(p.key); p.status.Note != "" {
		t.metrics.unknownGateway.Inc()
		if t.onUnknown != nil {
			t.onUnknown(p.status.NodeID, p.key.Gateway, p.status.Note)
		}
	}
}

func userAgent(n *corev3.Node) string {
	name := n.GetUserAgentName()
	v := n.GetUserAgentVersion()
	if v == "" {
		if sv := n.GetUserAgentBuildVersion().GetVersion(); sv != nil {
			v = formatSemver(sv.GetMajorNumber(), sv.GetMinorNumber(), sv.GetPatch())
		}
	}
	switch {
	case name == "":
		return v
	case v == "":
		return name
	}
	return name + "/" + v
}

func (t *tracker) OnStreamResponse(_ context.Context, id int64, req *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
	ti := typeIndex(req.GetTypeUrl())
	if ti < 0 {
		return
	}
	t.metrics.pushes.WithLabelValues(typeNames[ti]).Inc()
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.proxies[id]
	if p == nil {
		return
	}
	tt := p.types[ti]
	if tt == nil {
		tt = &typeTrack{}
		p.types[ti] = tt
	}
	tt.Sent = resp.GetVersionInfo()
	tt.recent[tt.next] = sentResponse{nonce: resp.GetNonce(), version: resp.GetVersionInfo()}
	tt.next = (tt.next + 1) % recentResponses
}

// Delta xDS is not served (the ADS service answers Unimplemented); these
// complete the callbacks interface.
func (t *tracker) OnDeltaStreamOpen(context.Context, int64, string) error { return errNotADS }
func (t *tracker) OnDeltaStreamClosed(int64, *corev3.Node)                {}
func (t *tracker) OnStreamDeltaRequest(int64, *discoveryv3.DeltaDiscoveryRequest) error {
	return errNotADS
}
func (t *tracker) OnStreamDeltaResponse(int64, *discoveryv3.DeltaDiscoveryRequest, *discoveryv3.DeltaDiscoveryResponse) {
}
func (t *tracker) OnFetchRequest(context.Context, *discoveryv3.DiscoveryRequest) error {
	return errNotADS
}
func (t *tracker) OnFetchResponse(*discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse) {}

// Proxies returns a copy of every stream's status, sorted by node id (then
// by stream, for several streams of one node).
func (t *tracker) Proxies() []ProxyStatus {
	type entry struct {
		id int64
		s  ProxyStatus
	}
	t.mu.Lock()
	entries := make([]entry, 0, len(t.proxies))
	for id, p := range t.proxies {
		s := p.status
		s.Types = map[string]TypeStatus{}
		for i, tt := range p.types {
			if tt == nil {
				continue
			}
			ts := tt.TypeStatus
			if ts.NACK != nil {
				n := *ts.NACK
				ts.NACK = &n
			}
			s.Types[typeNames[i]] = ts
		}
		entries = append(entries, entry{id, s})
	}
	t.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.s.NodeID, b.s.NodeID), cmp.Compare(a.id, b.id))
	})
	out := make([]ProxyStatus, len(entries))
	for i, e := range entries {
		out[i] = e.s
	}
	return out
}

func formatSemver(major, minor, patch uint32) string {
	return fmt.Sprintf("%d.%d.%d", major, minor, patch)
}

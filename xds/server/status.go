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

	"github.com/gatehouse-dev/gatehouse/pkg/peerauth"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// ProxyStatus is what gatehouse knows about one connected ADS stream.
type ProxyStatus struct {
	NodeID    string `json:"node_id"`
	Gateway   string `json:"gateway"`
	Client    string `json:"client"`
	UserAgent string `json:"user_agent"`
	Address   string `json:"address"`
	// Protocol is the xDS variant of the stream: "sotw" (state of the
	// world) or "delta".
	Protocol       string    `json:"protocol"`
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
	// Resources names what the rejected delta response carried (at most
	// nackedNamesMax, then "+N more"), so an operator sees which resource
	// the proxy refused; empty for state of the world, whose responses
	// carry every resource of the type.
	Resources []string `json:"resources,omitempty"`
}

// recentResponses is how many (nonce, version) pairs are kept per type to
// name the version a NACK rejects; clients answer the latest response, so a
// few cover reordering.
const recentResponses = 4

type sentResponse struct {
	nonce, version string
	names          []string // delta only: the resources it carried (see NACK.Resources)
}

type typeTrack struct {
	TypeStatus
	recent [recentResponses]sentResponse
	next   int
}

// sentAs returns the response sent with nonce, if it is a recent one.
func (t *typeTrack) sentAs(nonce string) (sentResponse, bool) {
	for _, r := range t.recent {
		if r.nonce == nonce && nonce != "" {
			return r, true
		}
	}
	return sentResponse{}, false
}

// sent records a response.
func (t *typeTrack) sent(r sentResponse) {
	t.Sent = r.version
	t.recent[t.next] = r
	t.next = (t.next + 1) % recentResponses
}

type proxy struct {
	status  ProxyStatus // Types unused here; built from types on read
	key     translate.GroupKey
	hasNode bool
	types   [numTypes]*typeTrack
	// noSecrets: the peer is off loopback and did not authenticate as a
	// Gateway, so its secrets requests are withheld (see secrets.go).
	noSecrets bool
	// identity is the Gateway the peer's client certificate names (mTLS),
	// "" without one; every request's node must name it (identity.go).
	identity string
	peer     *peer.Peer
}

// errNotADS is returned for streams other than aggregated ones (state of
// the world or delta), which gatehouse does not register; it guards against
// a caller registering the go-control-plane server's other services.
var errNotADS = errors.New("gatehouse serves xDS over ADS (StreamAggregatedResources, DeltaAggregatedResources) only")

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
	// acks, if set, hears of every ACK (spans of the change's trace).
	acks *AckTracer
	// secretsAllowed decides per stream whether TLS keys may be sent.
	secretsAllowed func(*peer.Peer) bool
	// auth, when the port serves TLS, refuses streams and requests whose
	// peer may not have the node's configuration (identity.go).
	auth *peerauth.Auth
	// holds hears of every state-of-the-world LDS and RDS answer of an
	// Envoy group's stream (sotwhold.go).
	holds *bridgeHolds

	mu      sync.Mutex
	proxies map[streamKey]*proxy
}

func newTracker(pub *Publisher, m *serverMetrics) *tracker {
	return &tracker{pub: pub, metrics: m, now: time.Now, proxies: map[streamKey]*proxy{}, secretsAllowed: secretsAllowed}
}

func (t *tracker) OnStreamOpen(ctx context.Context, id int64, typeURL string) error {
	return t.open(ctx, id, typeURL, protoSotW)
}

func (t *tracker) OnStreamClosed(id int64, _ *corev3.Node) {
	if t.holds != nil {
		t.holds.closed(id)
	}
	t.closed(streamKey{protoSotW, id})
}

// streamKey names a stream: go-control-plane numbers delta and state-of-
// the-world streams with separate counters.
type streamKey struct {
	protocol string
	id       int64
}

// Stream protocols, as ProxyStatus.Protocol shows them.
const (
	protoSotW  = "sotw"
	protoDelta = "delta"
)

// open registers a stream.
func (t *tracker) open(ctx context.Context, id int64, typeURL, protocol string) error {
	if typeURL != resource.AnyType {
		return errNotADS
	}
	p := &proxy{status: ProxyStatus{ConnectedSince: t.now().UTC(), Protocol: protocol}}
	pr, _ := peer.FromContext(ctx)
	if pr != nil && pr.Addr != nil {
		p.status.Address = pr.Addr.String()
	}
	p.noSecrets = !t.secretsAllowed(pr)
	p.peer = pr
	p.identity, _ = peerauth.GatewayOf(pr)
	if err := t.admitStream(p); err != nil {
		return err
	}
	t.mu.Lock()
	t.proxies[streamKey{protocol, id}] = p
	t.mu.Unlock()
	return nil
}

func (t *tracker) closed(k streamKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.proxies[k]
	delete(t.proxies, k)
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
	if err := t.admitRequest(t.proxies[streamKey{protoSotW, id}], req.GetNode()); err != nil {
		return err
	}
	p := t.requestProxy(streamKey{protoSotW, id}, req.GetNode())
	if p == nil {
		// Not opened through OnStreamOpen: nothing says the peer may
		// have secrets.
		withholdSecrets(req)
		return nil
	}
	if p.noSecrets && withholdSecrets(req) {
		p.status.Warning = secretsWithheldNote(p.status.Address)
	}
	ti := typeIndex(req.GetTypeUrl())
	if ti < 0 {
		return nil
	}
	// The names are interned by the stream (sotwads.go) only when its
	// subscription changes: an ACK's names are dropped with the request.
	tt := p.track(ti)
	if req.GetErrorDetail() != nil {
		rejected, known := tt.sentAs(req.GetResponseNonce())
		t.holdRequest(id, p, ti, req, rejected.version, true)
		t.nack(tt, ti, req.GetErrorDetail().GetMessage(), rejected, now)
		tt.Acked = req.GetVersionInfo() // a NACK carries the last good version
		if known {
			// go-control-plane answers any request whose version differs
			// from the snapshot's at once, so a NACK (which carries the old
			// version) would get the rejected resources again, in a loop.
			// Presenting the rejected version parks the request until the
			// snapshot changes.
			req.VersionInfo = rejected.version
		}
		return nil
	}
	t.holdRequest(id, p, ti, req, "", false)
	if v := req.GetVersionInfo(); v != "" {
		tt.Acked = v
		t.acks.acked(p.key, ti, v, p.status.NodeID)
	}
	return nil
}

// holdRequest passes a state-of-the-world request of an Envoy group's
// stream to the bridge holds (nacked: the version a NACK rejects, "" if
// not known).
func (t *tracker) holdRequest(id int64, p *proxy, ti typeIdx, req *discoveryv3.DiscoveryRequest, nacked string, nack bool) {
	if t.holds == nil || !p.hasNode || p.key.Client != translate.ClientEnvoy {
		return
	}
	t.holds.request(id, p.key, p.status.NodeID, ti, req.GetVersionInfo(), nacked, req.GetResponseNonce(), nack)
}

// requestProxy returns the proxy of a stream that sent a request, noting
// its node, or nil for a stream not opened through open. t.mu must be held.
func (t *tracker) requestProxy(k streamKey, n *corev3.Node) *proxy {
	p := t.proxies[k]
	if p == nil {
		return nil
	}
	if !p.hasNode && n != nil {
		t.setNode(p, n)
	} else if p.status.Note != "" {
		// The Gateway may have been published since.
		p.status.Note = t.pub.unknownReason(p.key)
	}
	return p
}

// track returns the tracking of one type, created on first use.
func (p *proxy) track(ti typeIdx) *typeTrack {
	if p.types[ti] == nil {
		p.types[ti] = &typeTrack{}
	}
	return p.types[ti]
}

// nack records a rejection of the response rejected (zero if unknown).
func (t *tracker) nack(tt *typeTrack, ti typeIdx, msg string, rejected sentResponse, now time.Time) {
	tt.NACKs++
	tt.NACK = &NACK{Error: msg, Version: rejected.version, At: now, Resources: rejected.names}
	t.metrics.nacks.WithLabelValues(typeNames[ti]).Inc()
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
	if p := t.proxies[streamKey{protoSotW, id}]; p != nil {
		p.track(ti).sent(sentResponse{nonce: resp.GetNonce(), version: resp.GetVersionInfo()})
		if t.holds != nil && p.hasNode && p.key.Client == translate.ClientEnvoy {
			t.holds.sent(id, ti, resp.GetVersionInfo(), resp.GetNonce())
		}
	}
}

func (t *tracker) OnFetchRequest(context.Context, *discoveryv3.DiscoveryRequest) error {
	return errNotADS
}
func (t *tracker) OnFetchResponse(*discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse) {}

// Proxies returns a copy of every stream's status, sorted by node id (then
// by stream, for several streams of one node).
func (t *tracker) Proxies() []ProxyStatus {
	type entry struct {
		k streamKey
		s ProxyStatus
	}
	t.mu.Lock()
	entries := make([]entry, 0, len(t.proxies))
	for k, p := range t.proxies {
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
		entries = append(entries, entry{k, s})
	}
	t.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.s.NodeID, b.s.NodeID), cmp.Compare(a.k.protocol, b.k.protocol), cmp.Compare(a.k.id, b.k.id))
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

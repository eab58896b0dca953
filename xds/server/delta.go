package server

import (
	"context"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resource "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Delta (incremental) ADS callbacks. The delta watcher (deltaconn.go) keeps,
// per stream and type, the version of every resource it sent (content
// hashes, see Publisher) and sends only resources whose version differs,
// plus removals; it records what it sent when it sends, not when the client
// ACKs, so a NACKed version is not sent again until the content changes.
// The tracker records what each stream was sent, acknowledged and rejected,
// and withholds secrets as for state of the world.

// nackedNamesMax bounds the resource names kept per delta response for
// NACK.Resources (an initial sync carries thousands).
const nackedNamesMax = 8

func (t *tracker) OnDeltaStreamOpen(ctx context.Context, id int64, typeURL string) error {
	return t.open(ctx, id, typeURL, protoDelta)
}

func (t *tracker) OnDeltaStreamClosed(id int64, _ *corev3.Node) { t.closed(streamKey{protoDelta, id}) }

func (t *tracker) OnStreamDeltaRequest(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
	now := t.now().UTC()
	t.mu.Lock()
	defer t.mu.Unlock()
	shortenWireVersions(req.GetInitialResourceVersions())
	if err := t.admitRequest(t.proxies[streamKey{protoDelta, id}], req.GetNode()); err != nil {
		return err
	}
	p := t.requestProxy(streamKey{protoDelta, id}, req.GetNode())
	if p == nil {
		withholdDeltaSecrets(req)
		return nil
	}
	if p.noSecrets && withholdDeltaSecrets(req) {
		p.status.Warning = secretsWithheldNote(p.status.Address)
	}
	// The stream's loop interns the names it keeps (deltaads.go): a first
	// request naming exactly the snapshot's resources keeps none of them.
	ti := typeIndex(req.GetTypeUrl())
	if ti < 0 || req.GetResponseNonce() == "" {
		return nil // a subscription change, not an answer to a response
	}
	tt := p.track(ti)
	answered, known := tt.sentAs(req.GetResponseNonce())
	if req.GetErrorDetail() != nil {
		t.nack(tt, ti, req.GetErrorDetail().GetMessage(), answered, now)
		return nil
	}
	if known {
		// A delta ACK names no version: it accepts the response of its
		// nonce, whose system version is the type's version then.
		tt.Acked = answered.version
		t.acks.acked(p.key, ti, answered.version, p.status.NodeID)
	}
	return nil
}

func (t *tracker) OnStreamDeltaResponse(id int64, req *discoveryv3.DeltaDiscoveryRequest, resp *discoveryv3.DeltaDiscoveryResponse) {
	ti := typeIndex(req.GetTypeUrl())
	if ti < 0 {
		return
	}
	t.metrics.pushes.WithLabelValues(typeNames[ti]).Inc()
	names := make([]string, 0, min(len(resp.GetResources()), nackedNamesMax)+1)
	for i, r := range resp.GetResources() {
		if i == nackedNamesMax {
			names = append(names, "+"+strconv.Itoa(len(resp.GetResources())-i)+" more")
			break
		}
		names = append(names, r.GetName())
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.proxies[streamKey{protoDelta, id}]; p != nil {
		p.track(ti).sent(sentResponse{nonce: resp.GetNonce(), version: resp.GetSystemVersionInfo(), names: names})
	}
}

// wireVersionLen is the length of the resource versions go-control-plane
// v0.14 sends in delta responses (and the delta watcher, deltaEncoding,
// alike, so that clients reconnect across either): the hex SHA-256 of the
// resource's deterministic encoding (pkg/cache/v3/cached_resource.go,
// getResourceVersion), not the snapshot VersionMap entry it compares
// against when deciding what to send (pkg/cache/v3/delta.go). Gatehouse's
// VersionMap holds the first 64 bits of that same hash (resourceVersion).
const wireVersionLen = 64

// shortenWireVersions cuts the versions a reconnecting client reports in
// initial_resource_versions, which it read off the wire, to the
// VersionMap's form, so that what it already has is not sent again. A
// version of any other form (from another control plane) stays as it is:
// it matches nothing, and the resource is sent.
func shortenWireVersions(m map[string]string) {
	for name, v := range m {
		if len(v) == wireVersionLen {
			m[name] = v[:16]
		}
	}
}

// withholdDeltaSecrets rewrites a delta secrets request of a stream that may
// not have them, whatever its shape: its first request's empty subscribe
// list (legacy wildcard), "*", names or a mix subscribe to withheldSecret
// only, so the stream's subscription is never a wildcard and names nothing
// the snapshot has. Unsubscribes and initial_resource_versions can then
// only shrink it or claim versions of names it does not hold (both are
// covered by the attacker's tests in test/security/state). The stream's
// loop builds and updates its subscription from the request after this
// callback returns (deltaads.go, as go-control-plane's
// pkg/server/delta/v3/server.go). It reports whether it rewrote.
func withholdDeltaSecrets(req *discoveryv3.DeltaDiscoveryRequest) bool {
	if req.GetTypeUrl() != resource.SecretType {
		return false
	}
	req.ResourceNamesSubscribe = []string{withheldSecret}
	return true
}

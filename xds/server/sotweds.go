package server

import (
	"slices"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// State-of-the-world EDS sends only what a stream lacks (issue 10).
//
// go-control-plane's SnapshotCache answers every EDS request of a new
// version with every subscribed ClusterLoadAssignment, so one endpoint
// change sent each Envoy of a group its 1,000 CLAs. The protocol lets a
// state-of-the-world EDS (or RDS) response carry only some of the
// subscribed resources: for those types a resource missing from a
// response is not a removal (Envoy api-docs/xds_protocol.rst, "Knowing
// when a requested resource does not exist"), and Envoy updates an EDS
// watch only when the response names its resource (source/extensions/
// config_subscription/grpc/grpc_mux_impl.cc, processDiscoveryResources:
// "onConfigUpdate should be called only on watches(clusters/listeners)
// that have updates in the message for EDS/RDS"); a response that names
// none still moves the type's version and is ACKed.
//
// So sharedSotW passes the cache's EDS responses for an Envoy group
// through edsStream, which sends, at the cache's version and with the
// server's nonce, only the CLAs the stream does not hold at their current
// content. The cache still decides when to answer (its request rules, ADS
// order, make-before-break); this only trims what an answer carries.
//
// What a stream holds is what it ACKed, kept as one snapshot pointer
// (have: the stream holds every CLA of that snapshot at its version),
// not a per-stream map of 1,000 names: after the ACK of a response
// computed against have, the stream holds the whole of the response's
// snapshot. The CLAs to send are then the names changed between have and
// the current snapshot (deltaHub.changedSince, computed once per publish
// and shared by every stream), or, when have fell out of the chain, the
// names whose version differs from have's. Besides those:
//   - fresh: names the stream subscribed since its last response (Envoy
//     drops a CLA with its cluster, and asks again from nothing when the
//     cluster comes back, possibly at the same version);
//   - doubt: names a NACKed response carried. Envoy decodes the whole
//     response first but then updates watch after watch and NACKs at the
//     first that fails (processDiscoveryResources, THROW_IF_NOT_OK), so
//     some of a NACKed response's CLAs may be applied: they are sent
//     again until an ACK, whatever have says.
//
// A new or reconnecting stream has no have and gets every CLA (state of
// the world has no initial_resource_versions). A response the filter
// cannot compute (wildcard EDS, a version the delta hub does not hold,
// such as a bridge snapshot's, or a response that is not the whole of the
// snapshot) goes unchanged, and once ACKed leaves the stream with no have
// (the next response is whole again). A subscribed name the snapshot lacks
// is left out, as the stock cache leaves it out.
//
// All of it runs on the stream's goroutine: the ADS loop (sotwads.go)
// calls CreateWatch and, when it sends a response, GetDiscoveryResponse
// and then writes the nonce (sotwConn.send); a
// response it drops unsent (a newer request of the type came first) is
// never computed. The lock only guards against a misuse of that.

// edsStream is one state-of-the-world stream's EDS state.
type edsStream struct {
	mu    sync.Mutex
	have  *deltaSnap
	doubt map[string]struct{}
	fresh map[string]struct{}
	sent  *edsSent // the response last sent, until the stream answers it
}

// edsSent is an EDS response sent and not yet answered.
type edsSent struct {
	snap  *deltaSnap // nil: sent as the cache built it (content not known here)
	names []string   // the CLAs it carried (snap only)
	out   *discoveryv3.DiscoveryResponse
}

// request takes in an EDS request before its watch is created: the answer
// to the response sent, and the names subscribed since.
func (e *edsStream) request(req *cache.Request, sub cache.Subscription) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s := e.sent; s != nil && req.GetResponseNonce() != "" && req.GetResponseNonce() == s.out.GetNonce() {
		e.sent = nil
		switch {
		case s.snap == nil:
			e.have, e.doubt = nil, nil
		case req.GetErrorDetail() == nil:
			e.have, e.doubt = s.snap, nil
		default:
			if e.doubt == nil {
				e.doubt = map[string]struct{}{}
			}
			for _, n := range s.names {
				e.doubt[n] = struct{}{}
			}
		}
	}
	// The subscription keeps the returned names a subset of the subscribed
	// ones (it drops unsubscribed names from them: sotwSub.update, as
	// go-control-plane's SetResourceSubscription), so a name is new exactly
	// when there are more subscribed than returned: O(1) on an ACK.
	subscribed, returned := sub.SubscribedResources(), sub.ReturnedResources()
	if len(subscribed) > len(returned) {
		for n := range subscribed {
			if _, ok := returned[n]; !ok {
				if e.fresh == nil {
					e.fresh = map[string]struct{}{}
				}
				e.fresh[n] = struct{}{}
			}
		}
	}
}

// reset forgets everything (the stream moved to another group).
func (e *edsStream) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.have, e.doubt, e.fresh, e.sent = nil, nil, nil, nil
}

// edsResponse is an EDS response of the cache on its way to one stream.
type edsResponse struct {
	cache.Response
	e   *edsStream
	hub *deltaHub
	cur *deltaSnap // the snapshot it answers; nil: send the cache's as is
}

// returnedNames is that of the held response it trims, if it is one (what
// the stream holds once it ACKs is the whole snapshot: see above).
func (r *edsResponse) returnedNames() *subNames {
	if h, ok := r.Response.(*heldResp); ok {
		return h.returnedNames()
	}
	return nil
}

func (r *edsResponse) GetDiscoveryResponse() (*discoveryv3.DiscoveryResponse, error) {
	e := r.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.cur == nil {
		out, err := r.Response.GetDiscoveryResponse()
		if err == nil {
			e.sent, e.fresh = &edsSent{out: out}, nil
		}
		return out, err
	}
	ts := &r.cur.types[tEndpoints]
	enc, err := ts.sotw()
	if err != nil {
		return nil, err
	}
	out := &discoveryv3.DiscoveryResponse{VersionInfo: ts.version, TypeUrl: r.GetRequest().GetTypeUrl()}
	idx := e.lacking(r.hub, r.cur, enc)
	var names []string
	switch {
	case idx == nil:
		// Everything: the shared body as it is (sotwshare.go).
		out.ProtoReflect().SetUnknown(enc.all())
		names = enc.names
	case len(idx) == 1:
		// One CLA (an endpoint change): its shared field as it is.
		out.ProtoReflect().SetUnknown(protoreflect.RawFields(enc.fields[idx[0]]))
		names = []string{enc.names[idx[0]]}
	default:
		size := 0
		for _, i := range idx {
			size += len(enc.fields[i])
		}
		body := make([]byte, 0, size)
		names = make([]string, len(idx))
		for j, i := range idx {
			body = append(body, enc.fields[i]...)
			names[j] = enc.names[i]
		}
		out.ProtoReflect().SetUnknown(protoreflect.RawFields(body))
	}
	e.sent, e.fresh = &edsSent{snap: r.cur, names: names, out: out}, nil
	return out, nil
}

// lacking returns the indices, in enc's name order, of the CLAs of cur the
// stream does not hold at cur's versions, or nil when it lacks them all
// (then nothing is known of it). e.mu must be held.
func (e *edsStream) lacking(hub *deltaHub, cur *deltaSnap, enc *sotwEncoding) []int {
	if e.have == nil {
		return nil
	}
	ts := &cur.types[tEndpoints]
	idx := []int{} // not nil: a response may carry no CLA
	add := func(n string) {
		if i, ok := slices.BinarySearch(enc.names, n); ok {
			idx = append(idx, i)
		}
	}
	if changed, ok := hub.changedSince(e.have, cur, tEndpoints); ok {
		for _, n := range changed {
			add(n)
		}
	} else {
		hv := e.have.types[tEndpoints].versions
		for i, n := range enc.names {
			if v, ok := hv[n]; !ok || v != ts.versions[n] {
				idx = append(idx, i)
			}
		}
	}
	for n := range e.doubt {
		add(n)
	}
	for n := range e.fresh {
		add(n)
	}
	slices.Sort(idx)
	return slices.Compact(idx)
}

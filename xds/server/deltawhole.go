package server

import (
	"fmt"
	"sync"
	"sync/atomic"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// A whole type in one shared body (issue 10).
//
// A new delta stream (a restart's reconnect storm: every Envoy at once) is
// sent every resource of each type. Each resource is encoded once per
// snapshot (deltaEncoding), but gRPC still marshalled each stream's
// response, a Resource message per resource, walking and sizing each: a
// fifth of the server's CPU in a storm of 1,000 Envoys (FLEET_SYNCPROFILE).
// A response carrying the whole of a type snapshot (sendWhole) now goes
// out with the type's resources field encoded once per snapshot and shared
// by every stream, as state of the world does (sotwshare.go): the stream's
// response carries it as raw bytes, which gRPC copies.
//
// The response handed to the stream's loop (deltaads.go) still lists its
// Resources (shared, read only): the loop's callback gives them to the
// tracker, which records the names sent for NACK reports. The stream's
// Send (admittedDelta), which runs next on the same goroutine, swaps the
// list for the shared body just before gRPC marshals the message.

// deltaWholeEnc is a type snapshot's resources as a whole-type delta
// response carries them: in name order, and encoded as that response's
// resources field (DeltaDiscoveryResponse field 2).
type deltaWholeEnc struct {
	resources []*discoveryv3.Resource // read only
	body      protoreflect.RawFields  // full capacity: never appended to in place
}

// deltaResourcesField is DeltaDiscoveryResponse.resources' field number.
const deltaResourcesField = 2

// deltaWholeResources builds a type's deltaWholeEnc once per snapshot, on
// first use.
func deltaWholeResources(ts *deltaTypeSnap) func() (*deltaWholeEnc, error) {
	return sync.OnceValues(func() (*deltaWholeEnc, error) {
		out := &deltaWholeEnc{resources: make([]*discoveryv3.Resource, len(ts.names))}
		var body []byte
		for i, n := range ts.names {
			e := ts.enc[n]
			if e == nil {
				return nil, fmt.Errorf("delta: resource %q has no encoding", n)
			}
			res, err := e.get()
			if err != nil {
				return nil, err
			}
			out.resources[i] = res
			f, err := e.field()
			if err != nil {
				return nil, err
			}
			body = append(body, f...)
		}
		out.body = body[:len(body):len(body)]
		return out, nil
	})
}

// resourceField encodes e's Resource as DeltaDiscoveryResponse field 2
// (deltaEncoding.field).
func resourceField(e *deltaEncoding) ([]byte, error) {
	res, err := e.get()
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", e.typeURL, res.GetName(), err)
	}
	f := protowire.AppendTag(make([]byte, 0, len(b)+12), deltaResourcesField, protowire.BytesType)
	f = protowire.AppendBytes(f, b)
	return f[:len(f):len(f)], nil
}

// wholeSlot passes a response's encoded resources from the delta response
// that built it to the stream's Send.
type wholeSlot struct {
	out   *discoveryv3.DeltaDiscoveryResponse
	body  protoreflect.RawFields
	whole bool // the body is a whole type snapshot's
}

// wholeResponse is r's DeltaDiscoveryResponse when r carries the whole of
// its type snapshot: the shared list now, the shared body at Send.
func (r *deltaResponse) wholeResponse() (*discoveryv3.DeltaDiscoveryResponse, error) {
	enc, err := r.whole.whole()
	if err != nil {
		return nil, err
	}
	out := &discoveryv3.DeltaDiscoveryResponse{
		Resources:         enc.resources,
		TypeUrl:           r.req.GetTypeUrl(),
		SystemVersionInfo: r.version,
	}
	r.slot.out, r.slot.body, r.slot.whole = out, enc.body, true
	return out, nil
}

// fieldsResponse is r's DeltaDiscoveryResponse when r carries some
// resources (a change): the list now, and at Send the resources' shared
// field encodings (each made once per resource and snapshot), so that gRPC
// copies bytes instead of marshalling each Resource again, validating its
// strings, for every stream (7% of the server's CPU per change at 5,000
// Envoys, FLEET_CPUPROFILE).
func (r *deltaResponse) fieldsResponse() (*discoveryv3.DeltaDiscoveryResponse, error) {
	out := &discoveryv3.DeltaDiscoveryResponse{
		Resources:         make([]*discoveryv3.Resource, 0, len(r.resources)),
		RemovedResources:  r.removed,
		TypeUrl:           r.req.GetTypeUrl(),
		SystemVersionInfo: r.version,
	}
	var body []byte
	for _, e := range r.resources {
		res, err := e.get()
		if err != nil {
			return nil, err
		}
		out.Resources = append(out.Resources, res)
		f, err := e.field()
		if err != nil {
			return nil, err
		}
		if len(r.resources) == 1 {
			body = f // shared as it is: full capacity, never appended to
		} else {
			body = append(body, f...)
		}
	}
	r.slot.out, r.slot.body, r.slot.whole = out, body, false
	return out, nil
}

// wholeBodiesSent and fieldBodiesSent count the responses sent with a
// whole type's shared body and with their resources' shared encodings
// (tests).
var wholeBodiesSent, fieldBodiesSent atomic.Int64

// apply swaps r's resources for the shared body when r is the response
// the slot was handed (nil-safe).
func (s *wholeSlot) apply(r *discoveryv3.DeltaDiscoveryResponse) {
	if s == nil || s.out == nil {
		return
	}
	if s.out == r {
		r.Resources = nil
		r.ProtoReflect().SetUnknown(s.body)
		if s.whole {
			wholeBodiesSent.Add(1)
		} else {
			fieldBodiesSent.Add(1)
		}
	}
	s.out, s.body, s.whole = nil, nil, false
}

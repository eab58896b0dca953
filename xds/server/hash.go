package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/parallel"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// Resource and type versions are content hashes: SHA-256 over the
// deterministic protobuf encoding, truncated to 64 bits (translate.ContentHash,
// which the translator also uses for the hashes it hands over in
// Group.Hashes). SHA-256 because it
// is in the standard library, identical in every replica and, with the SHA
// extensions most x86 and arm64 servers have, faster per byte than FNV-1a;
// 64 bits because a version only has to tell "changed" from "unchanged"
// (it is not a security boundary) and short versions keep logs readable.
// Marshalling, not hashing, dominates the cost.

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// hashResource returns the content hash of one resource.
func hashResource(r types.Resource) (uint64, error) {
	var buf []byte
	return hashResourceBuf(r, &buf)
}

// hashResourceBuf is hashResource marshalling into *buf, which it grows and
// keeps for the next call: a full build hashes thousands of resources, and
// a buffer per resource was a good part of its garbage.
func hashResourceBuf(r types.Resource, buf *[]byte) (uint64, error) {
	if cla, ok := r.(*endpointv3.ClusterLoadAssignment); ok {
		// The CLAs of a full build, encoded by hand (translate.AppendCLA:
		// the same bytes, held to proto.Marshal by its tests).
		if b, ok := translate.AppendCLA((*buf)[:0], cla); ok {
			*buf = b
			return translate.ContentHash(b), nil
		}
	}
	b, err := marshalOpts.MarshalAppend((*buf)[:0], r)
	if err != nil {
		return 0, fmt.Errorf("marshal %s: %w", cache.GetResourceName(r), err)
	}
	*buf = b
	return translate.ContentHash(b), nil
}

// typeVersion hashes the (name, resource hash) list of one resource type.
// names must be sorted and hashes parallel to it, so that the version does
// not depend on the order resources were produced in. scratch is reused
// between calls to avoid allocating a buffer per type per publish.
func typeVersion(names []string, hashes []uint64, scratch *[]byte) string {
	buf := (*scratch)[:0]
	for i, n := range names {
		// The length prefix keeps ("ab","c") and ("a","bc") apart.
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(n)))
		buf = append(buf, n...)
		buf = binary.BigEndian.AppendUint64(buf, hashes[i])
	}
	*scratch = buf
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:8])
}

// parallelHashMin is the number of resources to hash below which spreading
// the work over goroutines costs more than it saves.
const parallelHashMin = 64

// hashAll hashes items[i] into out[i] for every i in idx, on up to
// GOMAXPROCS goroutines when there are many (a full build hashes thousands
// of resources; marshalling dominates and parallelises well).
func hashAll(items []types.Resource, idx []int, out []uint64) error {
	workers := parallel.Workers(len(idx), parallelHashMin)
	bufs := make([][]byte, workers) // each goroutine's encoding scratch
	return parallel.For(workers, len(idx), func(w, k int) error {
		h, err := hashResourceBuf(items[idx[k]], &bufs[w])
		out[idx[k]] = h
		return err
	})
}

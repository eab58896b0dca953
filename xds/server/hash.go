package server

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
)

// Resource and type versions are content hashes: SHA-256 over the
// deterministic protobuf encoding, truncated to 64 bits. SHA-256 because it
// is in the standard library, identical in every replica and, with the SHA
// extensions most x86 and arm64 servers have, faster per byte than FNV-1a;
// 64 bits because a version only has to tell "changed" from "unchanged"
// (it is not a security boundary) and short versions keep logs readable.
// Marshalling, not hashing, dominates the cost.

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// hashResource returns the content hash of one resource.
func hashResource(r types.Resource) (uint64, error) {
	b, err := marshalOpts.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("marshal %T: %w", r, err)
	}
	sum := sha256.Sum256(b)
	return binary.BigEndian.Uint64(sum[:8]), nil
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

package translate

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"

	"google.golang.org/protobuf/encoding/protowire"
)

// ContentHash is the content hash of one resource: SHA-256 over its
// deterministic protobuf encoding, truncated to 64 bits. The publisher
// hashes every resource this way; Translate hands over, in Group.Hashes,
// the hashes of resources it had to encode anyway, so that they are not
// encoded twice. Both sides use this one function, so a resource's hash is
// the same whichever side computed it.
func ContentHash(deterministic []byte) uint64 {
	sum := sha256.Sum256(deterministic)
	return binary.BigEndian.Uint64(sum[:8])
}

// Field numbers of envoy.config.cluster.v3.Cluster.eds_cluster_config and
// of its service_name.
const (
	clusterEDSConfigField = 3
	edsServiceNameField   = 2
)

// withEDSServiceName turns the deterministic encoding of a Cluster whose
// eds_cluster_config has no service_name into that of the same Cluster with
// service_name set, without encoding the Cluster again. The deterministic
// encoding writes fields in field-number order, so service_name (2) comes
// last in eds_cluster_config, after eds_config (1); the submessage's length
// prefix is rewritten. It returns an error if the encoding is not laid out
// that way (the caller then encodes the Cluster again);
// TestClusterHashesMatchEncoding holds the result to proto.Marshal.
func withEDSServiceName(pre []byte, serviceName string) ([]byte, error) {
	var start, end, subStart int
	found := false
	for off := 0; off < len(pre); {
		num, typ, n := protowire.ConsumeTag(pre[off:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		m := protowire.ConsumeFieldValue(num, typ, pre[off+n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		if num == clusterEDSConfigField {
			if found || typ != protowire.BytesType {
				return nil, errors.New("eds_cluster_config repeated or not length-delimited")
			}
			_, l := protowire.ConsumeVarint(pre[off+n:])
			start, subStart, end, found = off, off+n+l, off+n+m, true
		}
		off += n + m
	}
	if !found {
		return nil, errors.New("no eds_cluster_config")
	}
	sub := pre[subStart:end]
	for off := 0; off < len(sub); {
		num, typ, n := protowire.ConsumeTag(sub[off:])
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		if num >= edsServiceNameField {
			return nil, errors.New("eds_cluster_config has fields from service_name on")
		}
		m := protowire.ConsumeFieldValue(num, typ, sub[off+n:])
		if m < 0 {
			return nil, protowire.ParseError(m)
		}
		off += n + m
	}
	subLen := len(sub) + protowire.SizeTag(edsServiceNameField) + protowire.SizeBytes(len(serviceName))
	out := make([]byte, 0, len(pre)+subLen-len(sub)+protowire.SizeVarint(uint64(subLen)))
	out = append(out, pre[:start]...)
	out = protowire.AppendTag(out, clusterEDSConfigField, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(subLen))
	out = append(out, sub...)
	out = protowire.AppendTag(out, edsServiceNameField, protowire.BytesType)
	out = protowire.AppendString(out, serviceName)
	out = append(out, pre[end:]...)
	return out, nil
}

package admin

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/xds/server"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// configDump answers with what a Gateway's proxies of one client kind are
// served (gateway=G, client=envoy|grpc; envoy by default), like Envoy's
// /config_dump, with private keys and other secret material redacted.
func (cfg *Config) configDump(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	gw := q.Get("gateway")
	if gw == "" {
		writeError(w, fail(http.StatusBadRequest, "gateway= is required: name the Gateway whose configuration to show"))
		return
	}
	client := translate.ClientEnvoy
	switch c := q.Get("client"); c {
	case "", string(translate.ClientEnvoy):
	case string(translate.ClientGRPC):
		client = translate.ClientGRPC
	default:
		writeError(w, fail(http.StatusBadRequest, fmt.Sprintf("client=%q: want envoy or grpc", c)))
		return
	}
	if cfg.Snapshot == nil {
		writeError(w, fail(http.StatusNotFound, "this gatehouse serves no xDS (see its --components): ask the replica that does"))
		return
	}
	snap, ok := cfg.Snapshot(translate.GroupKey{Gateway: gw, Client: client})
	if !ok {
		writeError(w, fail(http.StatusNotFound, fmt.Sprintf("nothing is served to %s clients of Gateway %q: check the name (gatehouse get gateways) and gatehouse status", client, gw)))
		return
	}
	out := api.ConfigDump{Gateway: gw, Client: string(client), Versions: map[string]string{}, Resources: map[string][]json.RawMessage{}}
	for typ, url := range typeURLs {
		out.Versions[typ] = snap.GetVersion(url)
		res := snap.GetResources(url)
		list := []json.RawMessage{}
		for _, name := range slices.Sorted(maps.Keys(res)) {
			m := res[name]
			if typ == server.TypeSecrets {
				m = redactSecret(m)
			}
			b, err := protojson.Marshal(m)
			if err != nil {
				writeError(w, fmt.Errorf("encoding %s %s: %w", typ, name, err))
				return
			}
			list = append(list, b)
		}
		out.Resources[typ] = list
	}
	if cfg.Bridge != nil && client == translate.ClientEnvoy {
		if b, ok := cfg.Bridge(translate.GroupKey{Gateway: gw, Client: client}); ok {
			out.Bridge = bridgeOf(snap, b)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// bridgeOf describes bridge b beside the published snapshot snap.
func bridgeOf(snap, b *cache.Snapshot) *api.ConfigDumpBridge {
	out := &api.ConfigDumpBridge{Versions: map[string]string{}, HeldClusters: []string{}}
	for typ, url := range typeURLs {
		out.Versions[typ] = b.GetVersion(url)
	}
	published := snap.GetResources(resource.ClusterType)
	for _, name := range slices.Sorted(maps.Keys(b.GetResources(resource.ClusterType))) {
		if _, ok := published[name]; !ok {
			out.HeldClusters = append(out.HeldClusters, name)
		}
	}
	return out
}

var redacted = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: "[redacted]"}}

// redactSecret returns a copy of a secret with everything secret replaced
// by "[redacted]", as Envoy's own config dump shows fields annotated
// sensitive (TlsCertificate.private_key, password): certificates and CAs
// stay (they are public), keys, passwords and generic secrets go. Anything
// it does not know is reduced to its name.
// Envoy: source/common/protobuf/utility.h (MessageUtil::redact).
func redactSecret(m proto.Message) proto.Message {
	s, ok := m.(*tlsv3.Secret)
	if !ok {
		return &tlsv3.Secret{}
	}
	c := proto.Clone(s).(*tlsv3.Secret)
	switch t := c.Type.(type) {
	case *tlsv3.Secret_TlsCertificate:
		if t.TlsCertificate.PrivateKey != nil {
			t.TlsCertificate.PrivateKey = redacted
		}
		if t.TlsCertificate.Password != nil {
			t.TlsCertificate.Password = redacted
		}
		t.TlsCertificate.PrivateKeyProvider = nil
		t.TlsCertificate.Pkcs12 = nil
	case *tlsv3.Secret_ValidationContext:
	default:
		c = &tlsv3.Secret{Name: s.Name}
	}
	return c
}

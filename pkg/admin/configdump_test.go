package admin

import (
	"encoding/json"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/gatehouse-dev/gatehouse/pkg/admin/api"
	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

func inline(s string) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: s}}
}

func TestConfigDump(t *testing.T) {
	const key = "-----BEGIN PRIVATE KEY-----SECRETKEYBYTES"
	snap, err := cache.NewSnapshot("v1", map[resource.Type][]types.Resource{
		resource.ClusterType: {&clusterv3.Cluster{Name: "svc/users"}},
		resource.SecretType: {
			&tlsv3.Secret{Name: "tls/public/https", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
				CertificateChain: inline("CERT"), PrivateKey: inline(key), Password: inline("hunter2"),
			}}},
			&tlsv3.Secret{Name: "other", Type: &tlsv3.Secret_GenericSecret{GenericSecret: &tlsv3.GenericSecret{Secret: inline("generic-secret")}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPI(t, nil, func(c *Config) {
		c.Snapshot = func(k translate.GroupKey) (*cache.Snapshot, bool) {
			return snap, k == translate.GroupKey{Gateway: "public", Client: translate.ClientEnvoy}
		}
	})
	var dump api.ConfigDump
	if code, e := a.do("GET", "/api/v1/config-dump?gateway=public", "", &dump); code != 200 {
		t.Fatalf("config dump: %d %s", code, e.Error)
	}
	all, _ := json.Marshal(dump)
	for _, secret := range []string{"SECRETKEYBYTES", "hunter2", "generic-secret"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("the config dump shows %q:\n%s", secret, all)
		}
	}
	if len(dump.Resources["clusters"]) != 1 || !strings.Contains(string(dump.Resources["clusters"][0]), `"svc/users"`) ||
		!strings.Contains(string(all), "[redacted]") || !strings.Contains(string(all), "CERT") || dump.Versions["clusters"] != "v1" {
		t.Errorf("config dump:\n%s", all)
	}
	for q, want := range map[string]string{
		"?gateway=public&client=grpc": "nothing is served to grpc clients",
		"?gateway=public&client=xds":  `client="xds": want envoy or grpc`,
		"":                            "gateway= is required",
	} {
		if code, e := a.do("GET", "/api/v1/config-dump"+q, "", nil); code < 400 || !strings.Contains(e.Error, want) {
			t.Errorf("config dump %s: %d %q, want %q", q, code, e.Error, want)
		}
	}
}

// TestConfigDumpBridge: while a removal is held, the dump shows the bridge
// Envoys are served beside the published config, naming the clusters it
// still holds; not for gRPC clients, and not once the hold is over.
func TestConfigDumpBridge(t *testing.T) {
	snapOf := func(version string, clusters ...string) *cache.Snapshot {
		var res []types.Resource
		for _, c := range clusters {
			res = append(res, &clusterv3.Cluster{Name: c})
		}
		s, err := cache.NewSnapshot(version, map[resource.Type][]types.Resource{resource.ClusterType: res})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	published, bridge := snapOf("v2", "svc/a"), snapOf("v2b", "svc/a", "svc/gone", "svc/old")
	held := true
	a := newTestAPI(t, nil, func(c *Config) {
		c.Snapshot = func(translate.GroupKey) (*cache.Snapshot, bool) { return published, true }
		c.Bridge = func(k translate.GroupKey) (*cache.Snapshot, bool) {
			if k.Client != translate.ClientEnvoy {
				t.Errorf("Bridge asked for %s", k)
			}
			return bridge, held
		}
	})
	var dump api.ConfigDump
	if code, e := a.do("GET", "/api/v1/config-dump?gateway=public", "", &dump); code != 200 {
		t.Fatalf("config dump: %d %s", code, e.Error)
	}
	if dump.Bridge == nil || dump.Bridge.Versions["clusters"] != "v2b" || strings.Join(dump.Bridge.HeldClusters, ",") != "svc/gone,svc/old" ||
		dump.Versions["clusters"] != "v2" || len(dump.Resources["clusters"]) != 1 {
		t.Errorf("config dump during a hold: %+v bridge %+v", dump, dump.Bridge)
	}
	dump = api.ConfigDump{}
	if code, e := a.do("GET", "/api/v1/config-dump?gateway=public&client=grpc", "", &dump); code != 200 || dump.Bridge != nil {
		t.Errorf("grpc config dump: %d %s, bridge %+v", code, e.Error, dump.Bridge)
	}
	held = false
	dump = api.ConfigDump{}
	if code, e := a.do("GET", "/api/v1/config-dump?gateway=public", "", &dump); code != 200 || dump.Bridge != nil {
		t.Errorf("config dump after the hold: %d %s, bridge %+v", code, e.Error, dump.Bridge)
	}
}

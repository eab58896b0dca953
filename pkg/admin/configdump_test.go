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

package translate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	xdscorev3 "github.com/cncf/xds/go/xds/core/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Group.Hashes must be exactly the ContentHash of each resource's
// deterministic encoding (what the publisher computes when a hash is
// absent), or versions would depend on who hashed; except the proxyless
// clusters', derived from the Envoy cluster's (grpcClusterHash), which
// must never stand for two different encodings. This covers every
// cluster shape of the golden cases and of the benchmark policy, in no
// zone and in one.
func TestClusterHashesMatchEncoding(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "in", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	checked, derived := 0, 0
	grpcEnc := map[uint64]string{} // derived hash -> the encoding it stood for
	check := func(name string, groups map[GroupKey]*Group) {
		for k, g := range groups {
			if len(g.Clusters) > 0 && len(g.Hashes) == 0 {
				t.Errorf("%s %s: no hashes for %d clusters", name, k, len(g.Clusters))
			}
			for r, h := range g.Hashes {
				b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				if c, ok := r.(*clusterv3.Cluster); ok && k.Client == ClientGRPC {
					if prev, seen := grpcEnc[h]; seen && prev != string(b) {
						t.Errorf("%s %s: %s: hash %x stands for two different proxyless clusters", name, k, c.Name, h)
					}
					grpcEnc[h] = string(b)
					if h == ContentHash(b) {
						t.Errorf("%s %s: %s: a proxyless cluster's hash is its encoding's: derived hashes must stay apart", name, k, c.Name)
					}
					derived++
					continue
				}
				if want := ContentHash(b); h != want {
					t.Errorf("%s %s: %s: hash %x, encoding hashes to %x", name, k, r.(named).GetName(), h, want)
				}
				checked++
			}
		}
	}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		snap, _ := loadCase(t, dir)
		groups, err := Translate(snap, Options{})
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		check(filepath.Base(dir), groups)
	}
	for _, zone := range []string{"", "z1"} {
		groups, err := Translate(bigSnapshot(t, 50, 100, 10), Options{Zone: zone})
		if err != nil {
			t.Fatal(err)
		}
		check("big", groups)
	}
	if checked < 50 || derived < 50 {
		t.Fatalf("only %d hashes and %d derived hashes checked", checked, derived)
	}
}

func TestWithEDSServiceName(t *testing.T) {
	c := &clusterv3.Cluster{
		Name:                 "svc/a",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig:     &clusterv3.Cluster_EdsClusterConfig{EdsConfig: adsSource()},
	}
	opts := proto.MarshalOptions{Deterministic: true}
	pre, err := opts.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	// A long name moves the length prefix past one byte.
	for _, name := range []string{"svc/a/0badf00d", string(make([]byte, 300))} {
		got, err := withEDSServiceName(pre, name)
		if err != nil {
			t.Fatal(err)
		}
		c2 := proto.Clone(c).(*clusterv3.Cluster)
		c2.EdsClusterConfig.ServiceName = name
		want, err := opts.Marshal(c2)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("name of %d bytes: spliced encoding differs from proto.Marshal", len(name))
		}
	}
	// Layouts it cannot splice are refused, not mangled.
	noEDS, _ := opts.Marshal(&clusterv3.Cluster{Name: "x"})
	if _, err := withEDSServiceName(noEDS, "n"); err == nil {
		t.Fatal("no eds_cluster_config: want an error")
	}
	named, _ := opts.Marshal(&clusterv3.Cluster{Name: "x", EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{ServiceName: "old"}})
	if _, err := withEDSServiceName(named, "n"); err == nil {
		t.Fatal("service_name already set: want an error")
	}
	if _, err := withEDSServiceName([]byte{0xff}, "n"); err == nil {
		t.Fatal("garbage: want an error")
	}
	if _, err := withEDSServiceName(append(append([]byte{}, pre...), pre...), "n"); err == nil {
		t.Fatal("eds_cluster_config twice: want an error")
	}
	if _, err := withEDSServiceName(protowire.AppendVarint(protowire.AppendTag(nil, clusterEDSConfigField, protowire.VarintType), 1), "n"); err == nil {
		t.Fatal("eds_cluster_config as a varint: want an error")
	}
	// An eds_config of 128 bytes or more: the submessage's length prefix
	// takes two bytes before the splice.
	big := proto.Clone(c).(*clusterv3.Cluster)
	big.EdsClusterConfig.EdsConfig.Authorities = []*xdscorev3.Authority{{Name: strings.Repeat("a", 200)}}
	pre, err = opts.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	got, err := withEDSServiceName(pre, "svc/a/1")
	if err != nil {
		t.Fatal(err)
	}
	big.EdsClusterConfig.ServiceName = "svc/a/1"
	if want, _ := opts.Marshal(big); string(got) != string(want) {
		t.Fatal("eds_config of 200 bytes: spliced encoding differs from proto.Marshal")
	}
}

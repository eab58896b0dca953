package translate

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/out from the translator's output")

// endpointsFile is testdata/in/<case>/endpoints.yaml: Service name to its
// endpoints, as a registry would report them.
type endpointsFile map[string][]struct {
	Address string `yaml:"address"`
	Port    int    `yaml:"port"`
	Weight  int    `yaml:"weight"`
	Zone    string `yaml:"zone"`
}

func loadCase(t *testing.T, dir string) (*policy.Snapshot, registry.Snapshot) {
	t.Helper()
	snap := policy.Load(hideFS{FS: os.DirFS(dir), hide: "endpoints.yaml"}, nil)
	for _, r := range snap.Rejected {
		t.Errorf("policy rejected %s: %s", r.Ref, strings.Join(r.Errors, "; "))
	}
	reg := registry.Snapshot{}
	data, err := os.ReadFile(filepath.Join(dir, "endpoints.yaml"))
	if os.IsNotExist(err) {
		return snap, reg
	}
	if err != nil {
		t.Fatal(err)
	}
	var ef endpointsFile
	if err := yaml.Unmarshal(data, &ef); err != nil {
		t.Fatalf("endpoints.yaml: %v", err)
	}
	for svc, eps := range ef {
		for _, e := range eps {
			w := e.Weight
			if w == 0 {
				w = 1
			}
			reg[svc] = append(reg[svc], registry.Endpoint{Address: e.Address, Port: e.Port, Weight: w, Zone: e.Zone})
		}
		sort.Slice(reg[svc], func(i, j int) bool {
			a, b := reg[svc][i], reg[svc][j]
			if a.Zone != b.Zone {
				return a.Zone < b.Zone
			}
			if a.Address != b.Address {
				return a.Address < b.Address
			}
			return a.Port < b.Port
		})
	}
	return snap, reg
}

// hideFS hides the registry fixture from the policy loader, which reads
// every YAML file of the directory.
type hideFS struct {
	fs.FS
	hide string
}

func (h hideFS) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(h.FS, name)
	if name != "." {
		return es, err
	}
	out := es[:0:0]
	for _, e := range es {
		if e.Name() != h.hide {
			out = append(out, e)
		}
	}
	return out, err
}

// groupCLAs builds a group's ClusterLoadAssignments the way the controller
// does: one per EDS name from its Service's endpoints.
func groupCLAs(g *Group, reg registry.Snapshot) map[string]*endpointv3.ClusterLoadAssignment {
	out := make(map[string]*endpointv3.ClusterLoadAssignment, len(g.EDS))
	for eds, svc := range g.EDS {
		out[eds] = Endpoints(eds, g.LocalZone[eds], reg[svc])
	}
	return out
}

// toYAML renders resources as YAML via protojson, keeping proto field order.
func toYAML(t *testing.T, msgs []proto.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i, m := range msgs {
		js, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
		if err != nil {
			t.Fatalf("protojson: %v", err)
		}
		// Compact first: protojson varies its whitespace on purpose.
		var c bytes.Buffer
		if err := json.Compact(&c, js); err != nil {
			t.Fatal(err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(c.Bytes(), &n); err != nil {
			t.Fatal(err)
		}
		clearStyle(&n)
		if i > 0 {
			buf.WriteString("---\n")
		}
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(&n); err != nil {
			t.Fatal(err)
		}
		enc.Close()
	}
	return buf.Bytes()
}

// clearStyle turns JSON flow style into block style.
func clearStyle(n *yaml.Node) {
	// The encoder still quotes any string that would read back as another
	// type, since the node keeps its !!str tag.
	n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle
	for _, c := range n.Content {
		clearStyle(c)
	}
}

func resources(rs []types.Resource) []proto.Message {
	out := make([]proto.Message, len(rs))
	for i, r := range rs {
		out[i] = r
	}
	return out
}

// redactSecrets keeps private keys out of the golden files.
func redactSecrets(rs []types.Resource) []proto.Message {
	out := make([]proto.Message, len(rs))
	for i, r := range rs {
		s := proto.Clone(r).(*tlsv3.Secret)
		if pk := s.GetTlsCertificate().GetPrivateKey(); pk != nil {
			pk.Specifier = &corev3.DataSource_InlineString{InlineString: "[redacted]"}
		}
		if gs := s.GetGenericSecret().GetSecret(); gs != nil {
			gs.Specifier = &corev3.DataSource_InlineString{InlineString: "[redacted]"}
		}
		out[i] = s
	}
	return out
}

func groupFiles(t *testing.T, g *Group, reg registry.Snapshot) map[string][]byte {
	clas := groupCLAs(g, reg)
	if err := Check(g, clas); err != nil {
		t.Errorf("Check %s: %v", g.Key, err)
	}
	eds := make([]proto.Message, 0, len(clas))
	for _, k := range sortedKeys(clas) {
		// Check's CLA check is hand-written for speed; hold Endpoints'
		// output to Envoy's full validation here.
		if err := clas[k].ValidateAll(); err != nil {
			t.Errorf("ClusterLoadAssignment %s: %v", k, err)
		}
		eds = append(eds, clas[k])
	}
	prefix := g.Key.Gateway + "." + string(g.Key.Client) + "."
	files := map[string][]byte{}
	for name, msgs := range map[string][]proto.Message{
		"listeners": resources(g.Listeners),
		"routes":    resources(g.Routes),
		"clusters":  resources(g.Clusters),
		"endpoints": eds,
		"secrets":   redactSecrets(g.Secrets),
	} {
		if len(msgs) > 0 { // an empty group writes no files
			files[prefix+name+".yaml"] = toYAML(t, msgs)
		}
	}
	if len(g.Skipped) > 0 {
		b, err := yaml.Marshal(g.Skipped)
		if err != nil {
			t.Fatal(err)
		}
		files[prefix+"skipped.yaml"] = b
	}
	return files
}

func TestGolden(t *testing.T) {
	cases, err := os.ReadDir(filepath.Join("testdata", "in"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("no golden cases")
	}
	if *update {
		removeStaleCases(t, cases)
	}
	for _, c := range cases {
		if !c.IsDir() {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			snap, reg := loadCase(t, filepath.Join("testdata", "in", c.Name()))
			groups, err := Translate(snap, Options{DiscoveredJWKS: goldenDiscovered, DiscoveredLogin: goldenDiscoveredLogin})
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			want := map[string][]byte{}
			for _, k := range sortedGroupKeys(groups) {
				for name, b := range groupFiles(t, groups[k], reg) {
					want[name] = b
				}
			}
			outDir := filepath.Join("testdata", "out", c.Name())
			if *update {
				writeGolden(t, outDir, want)
				return
			}
			compareGolden(t, outDir, want)
		})
	}
	if !*update {
		outs, _ := os.ReadDir(filepath.Join("testdata", "out"))
		names := map[string]bool{}
		for _, c := range cases {
			names[c.Name()] = true
		}
		for _, o := range outs {
			if !names[o.Name()] {
				t.Errorf("testdata/out/%s: stale golden case (run with -update)", o.Name())
			}
		}
	}
}

// goldenDiscovered stands for pkg/oidc in the golden cases: the jwks_uri
// of login.example.com is known; any other issuer was never discovered.
func goldenDiscovered(j *policy.JWTAuth) string {
	if j.Issuer == "https://login.example.com/" {
		return "https://login.example.com/oauth2/keys"
	}
	return ""
}

// goldenDiscoveredLogin stands for pkg/oidc for browser logins: the
// endpoints of login.example.com are known; any other issuer was never
// discovered.
func goldenDiscoveredLogin(l *policy.OAuth2LoginAuth) LoginEndpoints {
	if l.Issuer == "https://login.example.com/" {
		return LoginEndpoints{
			Authorization: "https://login.example.com/oauth2/authorize",
			Token:         "https://login.example.com:8443/oauth2/token",
			EndSession:    "https://login.example.com/oauth2/logout",
		}
	}
	return LoginEndpoints{}
}

func sortedGroupKeys(m map[GroupKey]*Group) []GroupKey {
	keys := make([]GroupKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func writeGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range old {
		if _, keep := files[e.Name()]; !keep {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func compareGolden(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("%v (run go test ./xds/translate -update)", err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("%s: stale golden file (run with -update)", filepath.Join(dir, e.Name()))
		}
	}
	for _, name := range sortedKeys(files) {
		got := files[name]
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: missing golden file (run with -update)", name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from golden:\n%s", name, firstDiff(string(want), string(got)))
		}
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return fmt.Sprintf("line %d:\n  want: %s\n  got:  %s", i+1, w, g)
		}
	}
	return "(no line difference)"
}

// removeStaleCases deletes output directories whose input case is gone.
func removeStaleCases(t *testing.T, cases []os.DirEntry) {
	t.Helper()
	in := map[string]bool{}
	for _, c := range cases {
		in[c.Name()] = true
	}
	outs, err := os.ReadDir(filepath.Join("testdata", "out"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, o := range outs {
		if !in[o.Name()] {
			if err := os.RemoveAll(filepath.Join("testdata", "out", o.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

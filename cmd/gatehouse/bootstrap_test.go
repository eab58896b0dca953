package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/envoy"
)

func TestBootstrapCommand(t *testing.T) {
	code, out, errOut := gatehouse(t, "bootstrap", "--gateway", "public", "--node-id", "edge-7",
		"--xds-addr", "10.0.0.5:18001", "--admin-port", "9100", "--max-heap", "512MiB", "--stats-port", "9200", "--stats-addr", "10.0.0.9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, err := envoy.EnvoyBootstrap(envoy.Options{
		Gateway: "public", NodeID: "edge-7", XDSAddrs: []string{"10.0.0.5:18001"}, AdminPort: 9100,
		MaxHeapBytes: 512 << 20, MaxConnections: envoy.DefaultMaxConnections, XDSProtocol: envoy.ProtocolDelta,
		StatsPort: 9200, StatsAddr: "10.0.0.9",
	})
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("flags did not reach the renderer; got:\n%s\nwant:\n%s", out, want)
	}

	// Delta by default; --xds-protocol sotw keeps state of the world.
	for args, want := range map[string]string{"": "DELTA_GRPC", "--xds-protocol=delta": "DELTA_GRPC", "--xds-protocol=sotw": "GRPC"} {
		argv := []string{"bootstrap", "--gateway", "public"}
		if args != "" {
			argv = append(argv, args)
		}
		code, out, errOut = gatehouse(t, argv...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", argv, code, errOut)
		}
		var b struct {
			DynamicResources struct {
				AdsConfig struct {
					APIType string `yaml:"api_type"`
				} `yaml:"ads_config"`
			} `yaml:"dynamic_resources"`
		}
		if err := yaml.Unmarshal([]byte(out), &b); err != nil || b.DynamicResources.AdsConfig.APIType != want {
			t.Errorf("%v: api_type %q (err %v), want %s", argv, b.DynamicResources.AdsConfig.APIType, err, want)
		}
	}

	code, out, errOut = gatehouse(t, "bootstrap", "--gateway", "public", "--format", "grpc")
	if code != 0 {
		t.Fatalf("--format grpc: exit %d: %s", code, errOut)
	}
	var g struct {
		Node struct{ Cluster string } `json:"node"`
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.Node.Cluster != "public" {
		t.Errorf("--format grpc: node.cluster %q, err %v:\n%s", g.Node.Cluster, err, out)
	}
}

func TestBootstrapCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int // 2: cobra's usage errors (missing flag, unparsable value); 1: refused values
	}{
		{[]string{"bootstrap"}, `required flag(s) "gateway"`, exitUsage},
		{[]string{"bootstrap", "--gateway", "public", "--format", "xml"}, "--format", exitRejected},
		{[]string{"bootstrap", "--gateway", "public", "--max-heap", "lots"}, "max-heap", exitUsage},
		{[]string{"bootstrap", "--gateway", "Bad_Name"}, "must be a Gateway name", exitRejected},
		{[]string{"bootstrap", "--gateway", "public", "--xds-addr", "nowhere"}, "xds address", exitRejected},
		{[]string{"bootstrap", "--gateway", "public", "--xds-protocol", "rest"}, `xds protocol "rest": want delta or sotw`, exitRejected},
		{[]string{"bootstrap", "--gateway", "public", "--format", "grpc", "--xds-protocol", "delta"}, "proxyless gRPC clients use state of the world only", exitRejected},
	} {
		code, out, errOut := gatehouse(t, tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, nothing on stdout, and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]uint64{"1073741824": 1 << 30, "512MiB": 512 << 20, "2GiB": 2 << 30, "64KiB": 64 << 10, "100B": 100} {
		var s sizeFlag
		if err := s.Set(in); err != nil || uint64(s) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, uint64(s), err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5GiB", "1TB", "99999999999GiB"} {
		var s sizeFlag
		if err := s.Set(in); err == nil {
			t.Errorf("Set(%q) accepted %d", in, uint64(s))
		}
	}
	s := sizeFlag(1 << 30)
	if s.String() != "1GiB" {
		t.Errorf("String() = %q, want 1GiB", s.String())
	}
}

// The committed bootstrap that docker-compose mounts must be exactly what the
// command prints today, so it cannot drift from the template.
const composeBootstrapFile = "../../envoy/quickstart-bootstrap.yaml"

var composeBootstrapArgs = []string{"bootstrap", "--gateway", "public", "--xds-addr", "gatehouse:18000"}

func TestComposeBootstrapIsCurrent(t *testing.T) {
	code, out, errOut := gatehouse(t, composeBootstrapArgs...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	committed, err := os.ReadFile(composeBootstrapFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != out {
		t.Errorf("%s is stale; regenerate it with: gatehouse %s > envoy/quickstart-bootstrap.yaml",
			filepath.Base(composeBootstrapFile), strings.Join(composeBootstrapArgs, " "))
	}
}

// Every gatehouse flag docker-compose.yml and the Dockerfile pass must exist
// on its verb, so neither can silently rot when a flag is renamed.
func TestComposeFlagsExist(t *testing.T) {
	var matches [][]string
	for file, re := range map[string]*regexp.Regexp{
		// Commands are written as flow sequences: ["serve", "--policy-dir", ...].
		"../../docker-compose.yml": regexp.MustCompile(`(?m)^\s*command:\s*\[(.*)\]`),
		"../../Dockerfile":         regexp.MustCompile(`(?m)^CMD\s*\[(.*)\]`),
	} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		found := re.FindAllStringSubmatch(string(data), -1)
		if len(found) == 0 {
			t.Fatalf("no command found in %s", filepath.Base(file))
		}
		matches = append(matches, found...)
	}
	checked := 0
	for _, m := range matches {
		var args []string
		if err := json.Unmarshal([]byte("["+m[1]+"]"), &args); err != nil {
			t.Fatalf("command %s: %v", m[1], err)
		}
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			continue // not a gatehouse verb (e.g. envoy's own command line)
		}
		root := newRootCmd(nil, nil)
		cmd, _, err := root.Find(args)
		if err != nil || cmd == root {
			if args[0] == "serve" {
				t.Logf("verb %q not built yet; skipping its flags", args[0])
				continue
			}
			t.Errorf("docker-compose.yml or Dockerfile runs unknown verb %q", args[0])
			continue
		}
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "--") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
				t.Errorf("docker-compose.yml or Dockerfile passes --%s to %q, which has no such flag", name, cmd.Name())
			}
			checked++
		}
	}
	t.Logf("%d flags checked", checked)
}

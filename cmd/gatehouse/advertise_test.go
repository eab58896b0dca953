package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/xds/translate"
)

// TestServeRefusesUnspecifiedAdvertise: listening on every address
// (0.0.0.0, [::], no host) must not make the ext_authz and rate-limit
// clusters point at that address (Envoy would dial itself); serve refuses
// to start, naming the flags that fix it, before it binds anything.
func TestServeRefusesUnspecifiedAdvertise(t *testing.T) {
	dir := t.TempDir()
	for _, xds := range []string{"0.0.0.0:0", "[::]:0", ":0", "[::ffff:0.0.0.0]:0"} {
		code, _, errOut := gatehouse(t, "serve", "--policy-dir", dir, "--xds-addr", xds, "--admin-addr", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errOut, "--authz-advertise-addr") || !strings.Contains(errOut, "--ratelimit-advertise-addr") {
			t.Errorf("--xds-addr %s: exit %d, stderr %q; want 1 and a message naming the advertise flags", xds, code, errOut)
		}
	}
	// One advertise address is not enough: the other cluster would still
	// point at 0.0.0.0.
	code, _, errOut := gatehouse(t, "serve", "--policy-dir", dir, "--xds-addr", "0.0.0.0:0", "--authz-advertise-addr", "gatehouse:18000", "--admin-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "--ratelimit-advertise-addr") {
		t.Errorf("only authz advertised: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = gatehouse(t, "serve", "--policy-dir", dir, "--authz-advertise-addr", "0.0.0.0:18000", "--admin-addr", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "--authz-advertise-addr 0.0.0.0:18000") {
		t.Errorf("unspecified advertise address: exit %d, stderr %q", code, errOut)
	}
}

func TestAdvertiseAddresses(t *testing.T) {
	for _, tc := range []struct {
		name, xds, authz, rl string
		components           []string
		wantErr              string
		wantAuthz, wantRL    string
	}{
		{name: "loopback default", xds: "127.0.0.1:18000", wantAuthz: "127.0.0.1:18000", wantRL: "127.0.0.1:18000"},
		{name: "all addresses, both advertised", xds: "0.0.0.0:18000", authz: "gatehouse:18000", rl: "rl.internal:18001", wantAuthz: "gatehouse:18000", wantRL: "rl.internal:18001"},
		{name: "ipv6 all, both advertised", xds: "[::]:18000", authz: "[2001:db8::1]:18000", rl: "[2001:db8::1]:18000", wantAuthz: "[2001:db8::1]:18000", wantRL: "[2001:db8::1]:18000"},
		{name: "all addresses, none advertised", xds: "0.0.0.0:18000", wantErr: "--authz-advertise-addr"},
		{name: "no host", xds: ":18000", wantErr: "listens on every address"},
		{name: "rate limit missing", xds: "[::]:18000", authz: "gatehouse:18000", wantErr: "--ratelimit-advertise-addr"},
		{name: "advertise unspecified", xds: "127.0.0.1:18000", rl: "[::]:18001", wantErr: "--ratelimit-advertise-addr [::]:18001"},
		// A replica that serves no xDS publishes no clusters: its
		// translator keeps its own default instead of 0.0.0.0.
		{name: "no xds component", xds: "0.0.0.0:18001", components: []string{componentRateLimit}, wantAuthz: "", wantRL: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := serviceOptions{components: allComponents, authzAdvertise: tc.authz, ratelimitAdvertise: tc.rl, systemCAFile: translate.DefaultSystemCAFile}
			if tc.components != nil {
				o.components = tc.components
			}
			err := o.validate(tc.xds)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("validate = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			to := o.translateOptions(tc.xds)
			if to.AuthzAddr != tc.wantAuthz || to.RateLimitAddr != tc.wantRL {
				t.Errorf("translate options %q, %q; want %q, %q", to.AuthzAddr, to.RateLimitAddr, tc.wantAuthz, tc.wantRL)
			}
		})
	}
}

// TestSystemCAFileFlag: the bundle Envoy checks TLS upstreams against
// defaults to the Debian/Alpine location and reaches the translator.
func TestSystemCAFileFlag(t *testing.T) {
	cmd := newServeCmd()
	if got := cmd.Flags().Lookup("system-ca-file").DefValue; got != translate.DefaultSystemCAFile {
		t.Errorf("--system-ca-file default %q", got)
	}
	if err := cmd.ParseFlags([]string{"--system-ca-file", "/etc/pki/tls/certs/ca-bundle.crt"}); err != nil {
		t.Fatal(err)
	}
	// The flag's value is bound to the options the command runs with.
	v := cmd.Flags().Lookup("system-ca-file").Value.String()
	o := serviceOptions{systemCAFile: v, components: allComponents}
	if got := o.translateOptions("127.0.0.1:18000").SystemCAFile; got != "/etc/pki/tls/certs/ca-bundle.crt" {
		t.Errorf("SystemCAFile = %q", got)
	}
	o.systemCAFile = ""
	if err := o.validate("127.0.0.1:18000"); err == nil || !strings.Contains(err.Error(), "--system-ca-file") {
		t.Errorf("empty --system-ca-file: %v", err)
	}
}

// TestShippedCommandsAdvertise: the serve commands docker-compose.yml and
// the Dockerfile run listen on every address, so they must advertise where
// Envoy reaches the services, or serve refuses to start.
func TestShippedCommandsAdvertise(t *testing.T) {
	raw, _ := readCompose(t).Services["gatehouse"].Command.([]any)
	compose := make([]string, len(raw))
	for i, a := range raw {
		compose[i], _ = a.(string)
	}
	docker, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var cmdLine []string
	for _, l := range strings.Split(string(docker), "\n") {
		if rest, ok := strings.CutPrefix(l, "CMD "); ok {
			if err := json.Unmarshal([]byte(rest), &cmdLine); err != nil {
				t.Fatalf("Dockerfile CMD: %v", err)
			}
		}
	}
	for name, args := range map[string][]string{"docker-compose.yml": compose, "Dockerfile": cmdLine} {
		if len(args) == 0 || args[0] != "serve" {
			t.Fatalf("%s: command %q, want serve ...", name, args)
		}
		cmd := newServeCmd()
		if err := cmd.ParseFlags(args[1:]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		get := func(f string) string { return cmd.Flags().Lookup(f).Value.String() }
		o := serviceOptions{components: allComponents, systemCAFile: get("system-ca-file"),
			authzAdvertise: get("authz-advertise-addr"), ratelimitAdvertise: get("ratelimit-advertise-addr")}
		if err := o.validate(get("xds-addr")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

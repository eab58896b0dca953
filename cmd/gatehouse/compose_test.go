package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of docker-compose.yml these tests read.
type composeFile struct {
	BootstrapCommand []string `yaml:"x-envoy-bootstrap-command"`
	Services         map[string]struct {
		Command any      `yaml:"command"`
		Volumes []string `yaml:"volumes"`
	} `yaml:"services"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// The Envoy bootstrap docker-compose.yml mounts is exactly what the
// x-envoy-bootstrap-command it names prints today.
func TestComposeMountedBootstrapIsCurrent(t *testing.T) {
	c := readCompose(t)
	if len(c.BootstrapCommand) == 0 || c.BootstrapCommand[0] != "bootstrap" {
		t.Fatalf("x-envoy-bootstrap-command = %v, want a gatehouse bootstrap command line", c.BootstrapCommand)
	}
	var mounted string
	for _, v := range c.Services["envoy"].Volumes {
		src, dst, _ := strings.Cut(v, ":")
		if strings.HasPrefix(dst, "/etc/envoy/envoy.yaml") {
			mounted = src
		}
	}
	if mounted == "" {
		t.Fatalf("the envoy service mounts no /etc/envoy/envoy.yaml: %v", c.Services["envoy"].Volumes)
	}
	code, out, errOut := gatehouse(t, c.BootstrapCommand...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d: %s", strings.Join(c.BootstrapCommand, " "), code, errOut)
	}
	committed, err := os.ReadFile(filepath.Join("../..", mounted))
	if err != nil {
		t.Fatal(err)
	}
	if string(committed) != out {
		t.Errorf("%s is stale; regenerate it with: gatehouse %s > %s", mounted, strings.Join(c.BootstrapCommand, " "), strings.TrimPrefix(mounted, "./"))
	}
}

// Every flag the gatehouse service of docker-compose.yml passes exists on
// its verb (parsed from the YAML, so any command form is covered), and the
// Consul address it uses is the consul service.
func TestComposeGatehouseFlags(t *testing.T) {
	c := readCompose(t)
	raw, ok := c.Services["gatehouse"].Command.([]any)
	if !ok || len(raw) == 0 {
		t.Fatalf("gatehouse command = %#v, want a list", c.Services["gatehouse"].Command)
	}
	args := make([]string, len(raw))
	for i, a := range raw {
		args[i] = a.(string)
	}
	root := newRootCmd(nil, nil)
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		t.Fatalf("unknown verb %q", args[0])
	}
	if err := cmd.ParseFlags(args[1:]); err != nil {
		t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
	}
	if got := cmd.Flags().Lookup("consul-addr"); got == nil || got.Value.String() != "consul:8500" {
		t.Fatalf("--consul-addr = %v, want consul:8500 (the consul service)", got)
	}
	if _, ok := c.Services["consul"]; !ok {
		t.Fatal("no consul service")
	}
	for _, svc := range []string{"hello", "echo", "redis", "envoy"} {
		if _, ok := c.Services[svc]; !ok {
			t.Errorf("docker-compose.yml has no %s service", svc)
		}
	}
}

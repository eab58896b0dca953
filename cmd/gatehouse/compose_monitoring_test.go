package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// docker-compose.yml is a valid Compose file (Debian's docker-compose
// parses it; no Docker engine is needed for that).
func TestComposeConfigValid(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		testenv.Missing(t, "docker-compose not found: run `make docker-compose` (Debian package docker-compose)")
		return
	}
	out, err := exec.Command(bin, "-f", "../../docker-compose.yml", "config", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("docker-compose config -q: %v\n%s", err, out)
	}
}

// The monitoring services mount files that exist, Prometheus scrapes the
// ports gatehouse and Envoy serve metrics on in this file, with the token
// file make-certs.sh writes, and loads the alert rules that are tested.
func TestComposeMonitoring(t *testing.T) {
	c := readCompose(t)
	for _, svc := range []string{"prometheus", "grafana", "jaeger"} {
		if _, ok := c.Services[svc]; !ok {
			t.Fatalf("docker-compose.yml has no %s service", svc)
		}
		for _, v := range c.Services[svc].Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./examples/consul/tls") {
				continue // made by make-certs.sh
			}
			if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
				t.Errorf("%s mounts %s: %v", svc, src, err)
			}
		}
	}
	data, err := os.ReadFile("../../monitoring/compose/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			Job           string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			Authorization struct {
				CredentialsFile string `yaml:"credentials_file"`
			} `yaml:"authorization"`
			Static []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &prom); err != nil {
		t.Fatal(err)
	}
	if len(prom.RuleFiles) != 1 || prom.RuleFiles[0] != "/etc/prometheus/alerts.yml" || !hasString(c.Services["prometheus"].Volumes, "./monitoring/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro") {
		t.Errorf("Prometheus does not load the tested alert rules: %v", prom.RuleFiles)
	}
	want := map[string]string{"gatehouse": "gatehouse:18080", "envoy": "envoy:19001"}
	for _, sc := range prom.ScrapeConfigs {
		if len(sc.Static) != 1 || len(sc.Static[0].Targets) != 1 || sc.Static[0].Targets[0] != want[sc.Job] {
			t.Errorf("job %s scrapes %v, want %s", sc.Job, sc.Static, want[sc.Job])
		}
		delete(want, sc.Job)
		switch sc.Job {
		case "gatehouse":
			if sc.Authorization.CredentialsFile != "/etc/prometheus/tls/metrics-token" {
				t.Errorf("gatehouse job sends no reader token: %q", sc.Authorization.CredentialsFile)
			}
		case "envoy":
			if sc.MetricsPath != "/stats/prometheus" {
				t.Errorf("envoy job path %q", sc.MetricsPath)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("no scrape job for %v", want)
	}
	// The ports are the ones this file gives gatehouse and Envoy.
	cmd := c.Services["gatehouse"].Command.([]any)
	var args []string
	for _, a := range cmd {
		args = append(args, a.(string))
	}
	if !strings.Contains(strings.Join(args, " "), "--admin-addr 0.0.0.0:18080") {
		t.Errorf("gatehouse's admin address is not :18080: %v", args)
	}
	bs, err := os.ReadFile("../../envoy/consul-bootstrap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(bs), "port_value: 19001") || !strings.Contains(string(bs), "path: /stats/prometheus") {
		t.Error("the compose Envoy bootstrap has no stats listener on 19001")
	}
	script, err := os.ReadFile("../../examples/consul/make-certs.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), ">metrics-token") || !strings.Contains(string(script), "reader prometheus") {
		t.Error("make-certs.sh writes no reader token for Prometheus")
	}
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

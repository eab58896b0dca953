package testenv

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestFreePortsAreBelowTheEphemeralRange(t *testing.T) {
	ports := FreePorts(t, 50)
	seen := map[int]bool{}
	for _, p := range ports {
		if p < PortLow || p >= PortHigh || seen[p] {
			t.Fatalf("port %d: outside [%d, %d) or repeated in %v", p, PortLow, PortHigh, ports)
		}
		seen[p] = true
	}
	// The range must end below the kernel's ephemeral ports, or a
	// restarted server could find its port taken by an outgoing connection.
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if lo, err := strconv.Atoi(f[0]); err != nil || lo < PortHigh {
			t.Fatalf("ephemeral range %s overlaps [%d, %d)", strings.TrimSpace(string(b)), PortLow, PortHigh)
		}
	}
}

// Missing fails unless the opt-out is set, and then skips. Run in a child
// process: a failing or skipping t cannot be observed from inside.
func TestMissingFailsUnlessOptedOut(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Missing(t, "widget not found: run `make widget`")
		t.Fatal("Missing returned")
	}
	for _, c := range []struct {
		optOut string
		want   string
	}{
		{"", "--- FAIL"},
		{"0", "--- FAIL"},
		{"true", "--- FAIL"}, // only 1 opts out
		{"1", "--- SKIP"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingFailsUnlessOptedOut$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", SkipMissingEnv+"="+c.optOut, "CI=")
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "make widget") {
			t.Fatalf("%s=%q: want %s naming the make target, got:\n%s", SkipMissingEnv, c.optOut, c.want, out)
		}
	}
}

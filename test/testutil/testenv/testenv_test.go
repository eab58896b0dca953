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

// A port reserved by one process is never handed out by another while the
// first still holds it, even when nothing listens on it (the Consul outage
// test leaves its port unbound for seconds). The child process asks for
// every port of the range but the held ones could still be drawn: it must
// draw none of them.
func TestFreePortsSkipsPortsReservedElsewhere(t *testing.T) {
	if os.Getenv("TESTENV_RESERVE_CHILD") != "" {
		held := map[string]bool{}
		for _, p := range strings.Split(os.Getenv("TESTENV_RESERVE_CHILD"), ",") {
			held[p] = true
		}
		for i := 0; i < 200; i++ {
			for _, p := range FreePorts(t, 20) {
				if held[strconv.Itoa(p)] {
					t.Fatalf("port %d handed out while another process holds it", p)
				}
			}
		}
		return
	}
	// Hold a good share of the range so that a child ignoring the
	// reservations would draw one of them (4,000 draws over 1,500 of 12,000
	// ports: the chance of missing every one is nil).
	var held []string
	for _, p := range FreePorts(t, 1500) {
		held = append(held, strconv.Itoa(p))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFreePortsSkipsPortsReservedElsewhere$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_RESERVE_CHILD="+strings.Join(held, ","))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

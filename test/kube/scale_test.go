package kubeproc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScaleFlapping: 500 Services x 10 endpoints (one EndpointSlice each,
// in one namespace), one endpoint of one Service flapping between ready and
// not ready every 100 ms for 10 s. Gatehouse keeps one connection to the API
// server whatever the number of Services (client-go multiplexes the watch
// over HTTP/2), its CPU stays bounded, and the flapping Service's last state
// is what status shows.
func TestScaleFlapping(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	const services, perService = 500, 10
	c := startCluster(t)
	names := make([]string, services)
	start := time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("svc-%03d", i)
		eps := make([]ep, perService)
		for j := range eps {
			eps[j] = ep{ip: fmt.Sprintf("10.%d.%d.%d", 1+i/250, i%250, j+1)}
		}
		c.put(t, "shop", slice(names[i], names[i], "grpc", 9000, eps...))
	}
	t.Logf("%d slices created in %v", services, time.Since(start).Round(time.Millisecond))
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", names...))
	g := launch(t, dir, c.kubeconfig)
	t.Logf("gatehouse ready in %v with %d Services", g.WaitReady(120*time.Second).Round(time.Millisecond), services)
	g.waitStatus("all endpoints", 60*time.Second, func(st kubeStatus) bool {
		if st.Kube == nil || len(st.Kube.Services) != services {
			return false
		}
		for _, s := range st.Kube.Services {
			if s.Endpoints != perService {
				return false
			}
		}
		return true
	})

	cpu0, wall0 := cpuTime(t, g.Pid), time.Now()
	maxConns := 0
	flap := names[services/2]
	eps := make([]ep, perService)
	for j := range eps {
		eps[j] = ep{ip: fmt.Sprintf("10.%d.%d.%d", 1+(services/2)/250, (services/2)%250, j+1)}
	}
	ready := true
	for i := 0; i < 100; i++ {
		ready = !ready
		r := ready
		eps[0].ready = &r
		c.put(t, "shop", slice(flap, flap, "grpc", 9000, eps...))
		if i%4 == 0 {
			n, err := establishedTo(g.Pid, c.Port)
			if err != nil {
				t.Fatal(err)
			}
			maxConns = max(maxConns, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cpu, wall := cpuTime(t, g.Pid)-cpu0, time.Since(wall0)
	want := perService
	if !ready {
		want--
	}
	g.waitStatus("flapping Service settled", 20*time.Second, func(st kubeStatus) bool {
		for _, s := range st.Kube.Services {
			if s.Name == flap {
				return s.Endpoints == want
			}
		}
		return false
	})
	t.Logf("100 flaps over %v: gatehouse CPU %v (%.0f%% of one core), at most %d connection(s) to the API server",
		wall.Round(time.Millisecond), cpu, 100*cpu.Seconds()/wall.Seconds(), maxConns)
	if maxConns < 1 || maxConns > 2 {
		t.Errorf("connections to the API server: at most %d seen, want 1 or 2 (one HTTP/2 connection; 2 while one is replaced)", maxConns)
	}
	// Generous: the machine is shared; a rebuild per flap of 500 Services
	// would cost far more.
	if cpu > wall {
		t.Errorf("gatehouse used %v of CPU in %v of flapping: more than one core", cpu, wall)
	}
}

// cpuTime is process pid's user+system CPU time so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz
}

// establishedTo counts process pid's established IPv4 TCP connections to
// 127.0.0.1:port, from /proc; anything it cannot read is an error, never a
// count.
func establishedTo(pid, port int) (int, error) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0, fmt.Errorf("listing the sockets of pid %d: %w", pid, err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the TCP table of pid %d: %w", pid, err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) == 0 || !strings.Contains(lines[0], "rem_address") {
		return 0, fmt.Errorf("/proc/%d/net/tcp: unexpected header", pid)
	}
	n := 0
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 10 {
			return 0, fmt.Errorf("/proc/%d/net/tcp: short line %q", pid, line)
		}
		if f[2] == want && f[3] == "01" && inodes[f[9]] {
			n++
		}
	}
	return n, nil
}

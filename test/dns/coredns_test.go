// Package dnsproc runs gatehouse as a real process against a real DNS
// server (CoreDNS, built by `make coredns` from the module proxy with only
// the file, hosts, bind, log and errors plugins: test/tools/coredns), real
// gRPC backends on loopback addresses and real proxyless grpc-go xDS
// clients. The tests change the zone file, which CoreDNS reloads, kill and
// restart the server, and watch what reaches the clients.
package dnsproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// CoreDNSVersion is the Makefile's COREDNS_VERSION.
const CoreDNSVersion = "v1.15.0"

// zoneReload is how often CoreDNS's file plugin looks for a new SOA serial.
const zoneReload = 250 * time.Millisecond

// coreDNS is a CoreDNS serving the zone "test." from a file on a loopback
// port, UDP and TCP.
type coreDNS struct {
	t      testing.TB
	bin    string
	dir    string
	Port   int
	Addr   string // 127.0.0.1:Port
	mu     sync.Mutex
	cmd    *exec.Cmd
	serial int
	log    gatehouseproc.LockedBuffer
}

// startCoreDNS writes the zone with records (lines such as
// "api 2 IN A 127.0.0.2") and starts CoreDNS on it.
func startCoreDNS(t *testing.T, records ...string) *coreDNS {
	t.Helper()
	bin := gatehouseproc.CachedTool(t, "GATEHOUSE_COREDNS", "coredns-"+CoreDNSVersion, "coredns", "coredns")
	d := &coreDNS{t: t, bin: bin, dir: t.TempDir(), Port: testenv.FreePort(t)}
	d.Addr = "127.0.0.1:" + strconv.Itoa(d.Port)
	corefile := fmt.Sprintf("test.:%d {\n  bind 127.0.0.1\n  errors\n  file %s {\n    reload %s\n  }\n}\n",
		d.Port, filepath.Join(d.dir, "db.test"), zoneReload)
	if err := os.WriteFile(filepath.Join(d.dir, "Corefile"), []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	d.SetZone(records...)
	d.Start()
	t.Cleanup(d.Kill)
	return d
}

// SetZone replaces the zone's records (the SOA serial goes up, so CoreDNS
// reloads it within zoneReload).
func (d *coreDNS) SetZone(records ...string) {
	d.t.Helper()
	d.mu.Lock()
	d.serial++
	serial := d.serial
	d.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN test.\n@ 3600 IN SOA ns.test. admin.test. %d 7200 3600 1209600 1\n", serial)
	for _, r := range records {
		b.WriteString(r + "\n")
	}
	tmp := filepath.Join(d.dir, ".db.test")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		d.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, "db.test")); err != nil {
		d.t.Fatal(err)
	}
}

// Start runs CoreDNS and waits (bounded) until it answers.
func (d *coreDNS) Start() {
	d.t.Helper()
	cmd := exec.Command(d.bin, "-conf", filepath.Join(d.dir, "Corefile"))
	cmd.Dir = d.dir
	cmd.Stdout, cmd.Stderr = &d.log, &d.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start CoreDNS: %v", err)
	}
	d.mu.Lock()
	d.cmd = cmd
	d.mu.Unlock()
	start := time.Now()
	for time.Since(start) < 20*time.Second {
		if _, err := d.Lookup("ns.test.", mdns.TypeSOA); err == nil {
			d.t.Logf("CoreDNS answering on %s after %v", d.Addr, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("CoreDNS not answering on %s within 20s:\n%s", d.Addr, d.log.String())
}

// Kill stops CoreDNS (its pid only) and waits for it.
func (d *coreDNS) Kill() {
	d.mu.Lock()
	cmd := d.cmd
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Lookup asks CoreDNS directly (the zone apex answers SOA queries).
func (d *coreDNS) Lookup(name string, qt uint16) (*mdns.Msg, error) {
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(name), qt)
	if qt == mdns.TypeSOA {
		q.SetQuestion("test.", qt)
	}
	c := &mdns.Client{Timeout: time.Second}
	m, _, err := c.Exchange(q, d.Addr)
	return m, err
}

// waitServed waits (bounded) until CoreDNS answers name with exactly n A
// records: the zone reload has happened.
func (d *coreDNS) waitServed(name string, n int) time.Duration {
	d.t.Helper()
	start := time.Now()
	got := -1
	for time.Since(start) < 10*time.Second {
		if m, err := d.Lookup(name, mdns.TypeA); err == nil {
			if got = len(m.Answer); got == n {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("CoreDNS did not serve %d A records for %s within 10s (last: %d)", n, name, got)
	return 0
}

// Package ratelimittest starts the real processes rate-limit tests run
// against: a redis-server per test on a free loopback port below the
// ephemeral range.
package ratelimittest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// Redis is a redis-server started for one test.
type Redis struct {
	Addr string
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// RequireBinary returns the path of name, or fails the test when it is not
// installed (skips it with GATEHOUSE_SKIP_MISSING=1).
func RequireBinary(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		testenv.Missing(t, "%s not found: run %s", name, install)
	}
	return path
}

// StartRedis starts redis-server without persistence on a free loopback
// port and stops it when the test ends.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	RequireBinary(t, "redis-server", "make redis")
	r := &Redis{t: t, port: FreePort(t)}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start (re)starts the server on its port and waits until it answers PING.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatalf("redis on %s already running", r.Addr)
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(r.Addr); err == nil {
			return
		} else if time.Now().After(deadline) {
			r.Stop()
			r.t.Fatalf("redis-server on %s did not answer within 10s: %v", r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused server must run to die
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Kill sends SIGKILL without resuming a paused server first, so that a
// paused server dies without answering what it was sent, and waits for it
// to exit. Start brings it back, empty, on the same port.
func (r *Redis) Kill() {
	r.t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		r.t.Fatalf("kill redis: %v", err)
	}
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing
// answers, as with a hung or overloaded Redis. Resume undoes it.
func (r *Redis) Pause() {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		r.t.Fatalf("pause redis: %v", err)
	}
}

// Resume continues a paused server.
func (r *Redis) Resume() {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		r.t.Fatalf("resume redis: %v", err)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// FreePort returns a loopback port that was free a moment ago, drawn below
// the ephemeral range (testenv.FreePorts), so that no outgoing connection
// can take it while a server restarts on it.
func FreePort(t testing.TB) int {
	t.Helper()
	return testenv.FreePort(t)
}

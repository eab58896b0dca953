package ratelimittest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// Node is one redis-server (or sentinel) process of a topology.
type Node struct {
	Addr string
	t    testing.TB
	cmd  *exec.Cmd
}

// startNode starts redis-server with a config file written to a fresh
// directory (cluster and sentinel mode rewrite their config) and waits
// until it answers PING.
func startNode(t testing.TB, port int, conf string, sentinel bool) *Node {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "redis.conf")
	base := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode yes\ndir %s\nsave \"\"\nappendonly no\nloglevel warning\n", port, dir)
	if err := os.WriteFile(path, []byte(base+conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{path}
	if sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	n := &Node{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t, cmd: cmd}
	t.Cleanup(n.Kill)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(n.Addr)
		if err == nil {
			return n
		}
		if time.Now().After(deadline) {
			n.Kill()
			t.Fatalf("redis-server on %s did not answer within 10s: %v", n.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill ends the process as a crash would (SIGKILL) and waits for it.
func (n *Node) Kill() {
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
	n.cmd = nil
}

// CLI runs redis-cli against the node and returns its output.
func (n *Node) CLI(args ...string) (string, error) {
	host, port, _ := net.SplitHostPort(n.Addr)
	return cli(append([]string{"-h", host, "-p", port}, args...)...)
}

func cli(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("redis-cli %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Cluster is a Redis Cluster on loopback.
type Cluster struct {
	Masters  []*Node
	Replicas []*Node // Replicas[i] replicates Masters[i]
}

// Addrs are the masters' addresses, as a client's seed list.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Masters))
	for i, m := range c.Masters {
		out[i] = m.Addr
	}
	return out
}

// ClusterNodeTimeout is how long the cluster waits before it calls a
// silent master failed and its replica takes over (redis.conf
// cluster-node-timeout; production default 15s).
const ClusterNodeTimeout = time.Second

// StartCluster makes a Redis Cluster of masters (each with one replica
// when replicas is true) with redis-cli --cluster create, and waits until
// every node reports cluster_state:ok.
func StartCluster(t testing.TB, masters int, replicas bool) *Cluster {
	t.Helper()
	RequireBinary(t, "redis-server", "make redis")
	RequireBinary(t, "redis-cli", "make redis")
	n := masters
	if replicas {
		n *= 2
	}
	// Each node has a client port and a cluster bus port, both drawn
	// below the ephemeral range.
	ports := testenv.FreePorts(t, 2*n)
	nodes := make([]*Node, n)
	addrs := make([]string, n)
	for i := range nodes {
		// A replica whose link to its master is older than the validity
		// factor times the node timeout does not take over; 0 lets it
		// always try, so a test's timing cannot disqualify it.
		conf := fmt.Sprintf("cluster-enabled yes\ncluster-port %d\ncluster-config-file nodes.conf\ncluster-node-timeout %d\ncluster-replica-validity-factor 0\n",
			ports[n+i], ClusterNodeTimeout.Milliseconds())
		nodes[i] = startNode(t, ports[i], conf, false)
		addrs[i] = nodes[i].Addr
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	if replicas {
		args = append(args, "--cluster-replicas", "1")
	}
	if out, err := cli(append(args, "--cluster-yes")...); err != nil {
		t.Fatalf("create cluster: %v\n%s", err, out)
	}
	c := &Cluster{}
	for _, nd := range nodes {
		c.waitOK(t, nd)
	}
	// redis-cli pairs replicas with masters as it sees fit: ask each node.
	byID := map[string]*Node{}
	masterOf := map[*Node]string{}
	for _, nd := range nodes {
		out, err := nd.CLI("cluster", "myid")
		if err != nil {
			t.Fatal(err)
		}
		byID[strings.TrimSpace(out)] = nd
		role, err := nd.CLI("role")
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(role, "master") {
			c.Masters = append(c.Masters, nd)
		}
	}
	if replicas {
		for _, nd := range nodes {
			out, err := nd.CLI("cluster", "nodes")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) > 3 && strings.Contains(f[2], "myself") && strings.Contains(f[2], "slave") {
					masterOf[nd] = f[3]
				}
			}
		}
		for _, m := range c.Masters {
			for r, id := range masterOf {
				if byID[id] == m {
					c.Replicas = append(c.Replicas, r)
				}
			}
		}
		if len(c.Replicas) != len(c.Masters) {
			t.Fatalf("cluster has %d masters and %d paired replicas", len(c.Masters), len(c.Replicas))
		}
		for _, r := range c.Replicas {
			waitSynced(t, r)
		}
	}
	return c
}

// waitOK waits (bounded) until the node reports cluster_state:ok.
func (c *Cluster) waitOK(t testing.TB, n *Node) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := n.CLI("cluster", "info")
		if err == nil && strings.Contains(out, "cluster_state:ok") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster node %s not ok within 20s: %v %s", n.Addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Sentinel is one master, one replica and three sentinels on loopback.
type Sentinel struct {
	Master, Replica *Node
	Sentinels       []*Node
	Name            string
}

// SentinelAddrs are the sentinels' addresses.
func (s *Sentinel) SentinelAddrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, n := range s.Sentinels {
		out[i] = n.Addr
	}
	return out
}

// SentinelDownAfter is how long the sentinels wait before they call a
// silent master down (down-after-milliseconds; production default 30s).
const SentinelDownAfter = 500 * time.Millisecond

// StartSentinel starts the master, its replica and three sentinels (quorum
// 2) watching it under name, and waits until the replica is in sync and
// every sentinel knows the replica and the other sentinels.
func StartSentinel(t testing.TB, name string) *Sentinel {
	t.Helper()
	RequireBinary(t, "redis-server", "make redis")
	RequireBinary(t, "redis-cli", "make redis")
	ports := testenv.FreePorts(t, 5)
	s := &Sentinel{Name: name}
	s.Master = startNode(t, ports[0], "", false)
	s.Replica = startNode(t, ports[1], fmt.Sprintf("replicaof 127.0.0.1 %d\n", ports[0]), false)
	waitSynced(t, s.Replica)
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range ports[2:] {
		conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n",
			name, ports[0], name, SentinelDownAfter.Milliseconds(), name, name)
		s.Sentinels = append(s.Sentinels, startNode(t, p, conf, true))
	}
	for _, sn := range s.Sentinels {
		for {
			master, err := sn.CLI("sentinel", "master", name)
			if err == nil && fieldAfter(master, "num-slaves") == "1" && fieldAfter(master, "num-other-sentinels") == "2" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s did not discover the replica and the other sentinels within 20s: %v\n%s", sn.Addr, err, master)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s
}

// waitSynced waits (bounded) until a replica's link to its master is up.
func waitSynced(t testing.TB, r *Node) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := r.CLI("info", "replication")
		if err == nil && strings.Contains(out, "master_link_status:up") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not in sync within 20s: %v %s", r.Addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fieldAfter returns the line after the line equal to key in redis-cli's
// one-value-a-line output of a map reply.
func fieldAfter(out, key string) string {
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if strings.TrimSpace(lines[i]) == key {
			return strings.TrimSpace(lines[i+1])
		}
	}
	return ""
}

// Package kubetest starts a real Kubernetes API server for tests: etcd and
// kube-apiserver on free loopback ports, with token authentication and RBAC,
// and stops them by pid. No controllers run: tests create and change
// EndpointSlices themselves through client-go, the way the EndpointSlice
// controller would.
//
// The binaries come from `make kube` (cached under
// ${XDG_CACHE_HOME:-$HOME/.cache}/gatehouse/kube-apiserver-VERSION and
// etcd-VERSION) or from $GATEHOUSE_KUBE_APISERVER and $GATEHOUSE_ETCD. When
// one is missing a test fails with a message saying how to build it (or is
// skipped with GATEHOUSE_SKIP_MISSING=1).
package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
	"github.com/gatehouse-dev/gatehouse/test/testutil/testenv"
)

// Versions the tests run (the Makefile's KUBE_VERSION and ETCD_VERSION).
const (
	KubeVersion = "v1.36.3"
	EtcdVersion = "v3.6.16"
)

// GatehouseUser is the user the gatehouse token authenticates as: the
// ServiceAccount of deploy/kubernetes/rbac.yaml, so that binding that
// manifest gives gatehouse exactly the rights it gives in a cluster.
const GatehouseUser = "system:serviceaccount:gatehouse:gatehouse"

// Server is a running (or stopped) etcd + kube-apiserver pair.
type Server struct {
	t       testing.TB
	dir     string
	apiBin  string
	etcdBin string

	EtcdPort, Port int
	URL            string // https://127.0.0.1:Port
	AdminToken     string // system:masters
	GatehouseToken string // GatehouseUser, no rights until RBAC grants them

	mu      sync.Mutex
	etcd    *proc
	api     *proc
	restart int
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  *gatehouseproc.LockedBuffer
}

// Start starts etcd and kube-apiserver, waits until the API server is ready
// (bounded), and stops both when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t:       t,
		dir:     t.TempDir(),
		apiBin:  gatehouseproc.CachedTool(t, "GATEHOUSE_KUBE_APISERVER", "kube-apiserver-"+KubeVersion, "kube-apiserver", "kube"),
		etcdBin: gatehouseproc.CachedTool(t, "GATEHOUSE_ETCD", "etcd-"+EtcdVersion, "etcd", "kube"),
	}
	// Below the ephemeral range: Restart reuses them.
	p := testenv.FreePorts(t, 3)
	s.EtcdPort, s.Port = p[0], p[2]
	s.URL = "https://127.0.0.1:" + strconv.Itoa(s.Port)
	s.AdminToken, s.GatehouseToken = token(t), token(t)
	s.writeFiles()
	t.Cleanup(func() {
		s.Kill()
		s.mu.Lock()
		e := s.etcd
		s.mu.Unlock()
		stop(t, e, "etcd")
		if t.Failed() {
			if e != nil {
				t.Logf("etcd log (tail):\n%s", gatehouseproc.Tail(e.log.String(), 2048))
			}
			t.Logf("kube-apiserver log (tail):\n%s", gatehouseproc.Tail(s.Log(), 4096))
		}
	})
	s.startEtcd(p[1])
	s.Restart()
	return s
}

func token(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// writeFiles writes the token file and the service-account key pair the
// API server requires (anonymous access is off).
func (s *Server) writeFiles() {
	tokens := fmt.Sprintf("%s,admin,admin,system:masters\n%s,%s,gatehouse-uid,system:serviceaccounts\n", s.AdminToken, s.GatehouseToken, GatehouseUser)
	s.write("tokens.csv", []byte(tokens))
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		s.t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		s.t.Fatal(err)
	}
	s.write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	s.write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

func (s *Server) write(name string, b []byte) {
	if err := os.WriteFile(filepath.Join(s.dir, name), b, 0o600); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) startEtcd(peerPort int) {
	s.t.Helper()
	client := fmt.Sprintf("http://127.0.0.1:%d", s.EtcdPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	e := launch(s.t, s.etcdBin,
		"--name", "kubetest", "--data-dir", filepath.Join(s.dir, "etcd"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "kubetest="+peer,
		"--log-level", "warn", "--unsafe-no-fsync")
	s.mu.Lock()
	s.etcd = e
	s.mu.Unlock()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-e.done:
			s.t.Fatalf("etcd exited during start:\n%s", gatehouseproc.Tail(e.log.String(), 4096))
		default:
		}
		if resp, err := c.Get(client + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("etcd not healthy within 30s:\n%s", gatehouseproc.Tail(e.log.String(), 4096))
}

func launch(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{}), log: &gatehouseproc.LockedBuffer{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	return p
}

// stop kills p with SIGKILL (by pid) and waits for it, bounded.
func stop(t testing.TB, p *proc, what string) {
	if p == nil {
		return
	}
	syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s pid %d did not exit within 10s of SIGKILL", what, p.cmd.Process.Pid)
	}
}

// Restart starts kube-apiserver (again, after Kill) on the same port and
// etcd: what was stored is kept. It returns how long it took to be ready.
func (s *Server) Restart() time.Duration {
	s.t.Helper()
	s.mu.Lock()
	if s.api != nil {
		s.mu.Unlock()
		s.t.Fatal("kubetest: Restart while kube-apiserver runs")
	}
	s.restart++
	s.mu.Unlock()
	start := time.Now()
	api := launch(s.t, s.apiBin,
		"--etcd-servers", fmt.Sprintf("http://127.0.0.1:%d", s.EtcdPort),
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(s.Port),
		"--cert-dir", filepath.Join(s.dir, "certs"),
		"--token-auth-file", filepath.Join(s.dir, "tokens.csv"),
		"--anonymous-auth=false",
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", filepath.Join(s.dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(s.dir, "sa.key"),
		"--service-cluster-ip-range", "10.96.0.0/24",
		// No Endpoints/EndpointSlice of its own in the default namespace:
		// the tests own every slice there is.
		"--endpoint-reconciler-type", "none",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
		"-v", "0")
	s.mu.Lock()
	s.api = api
	s.mu.Unlock()
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		// The API server's self-signed serving certificate, on loopback.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	defer c.CloseIdleConnections()
	const bound = 90 * time.Second
	for time.Since(start) < bound {
		select {
		case <-api.done:
			s.t.Fatalf("kube-apiserver exited during start:\n%s", gatehouseproc.Tail(api.log.String(), 4096))
		default:
		}
		req, _ := http.NewRequest("GET", s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				took := time.Since(start)
				s.t.Logf("kube-apiserver ready in %v (start %d)", took.Round(time.Millisecond), s.restart)
				return took
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("kube-apiserver not ready within %v:\n%s", bound, gatehouseproc.Tail(api.log.String(), 4096))
	return 0
}

// Kill stops kube-apiserver with SIGKILL (etcd keeps running).
func (s *Server) Kill() {
	s.mu.Lock()
	api := s.api
	s.api = nil
	s.mu.Unlock()
	stop(s.t, api, "kube-apiserver")
}

// Pid is kube-apiserver's process id (0 when stopped).
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api == nil {
		return 0
	}
	return s.api.cmd.Process.Pid
}

// Log is what the current kube-apiserver printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.api == nil {
		return ""
	}
	return s.api.log.String()
}

// REST is a client config for token (insecure TLS: the API server's
// certificate is self-signed, on loopback).
func (s *Server) REST(token string) *rest.Config {
	return &rest.Config{Host: s.URL, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, QPS: 200, Burst: 400}
}

// Admin is a clientset with full rights.
func (s *Server) Admin() kubernetes.Interface {
	s.t.Helper()
	c, err := kubernetes.NewForConfig(s.REST(s.AdminToken))
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// Kubeconfig writes a kubeconfig for token and returns its path.
func (s *Server) Kubeconfig(token string) string {
	s.t.Helper()
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubetest
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: kubetest
  user:
    token: %s
contexts:
- name: kubetest
  context: {cluster: kubetest, user: kubetest}
current-context: kubetest
`, s.URL, token)
	f, err := os.CreateTemp(s.dir, "kubeconfig-*")
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(cfg); err != nil {
		s.t.Fatal(err)
	}
	return f.Name()
}

// Ctx is a context bounded for one API call.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Dir is the server's working directory; certs/apiserver.crt there is the
// API server's self-signed certificate and its CA.
func (s *Server) Dir() string { return s.dir }

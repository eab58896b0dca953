// Package kubeproc runs gatehouse as a real process against a real
// Kubernetes API server (etcd + kube-apiserver, test/kube/kubetest), real
// gRPC backends and real proxyless grpc-go xDS clients. The tests create,
// change and delete EndpointSlices through client-go, the way the
// EndpointSlice controller does when a Deployment scales, and gatehouse reads
// them with the RBAC rights of deploy/kubernetes/rbac.yaml only.
package kubeproc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	testpb "google.golang.org/grpc/interop/grpc_testing"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/test/kube/kubetest"
	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

var gatehouseBin string

func TestMain(m *testing.M) { gatehouseproc.Main(m, &gatehouseBin) }

// cluster is an API server with the RBAC manifest applied and a kubeconfig
// for gatehouse's (ServiceAccount) user.
type cluster struct {
	*kubetest.Server
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	s := kubetest.Start(t)
	s.ApplyRBAC(filepath.Join("..", "..", "deploy", "kubernetes", "rbac.yaml"))
	s.EnsureNamespace("shop")
	return &cluster{Server: s, kubeconfig: s.Kubeconfig(s.GatehouseToken)}
}

type gatehouse struct {
	*gatehouseproc.Proc
	t *testing.T
}

// launch starts `gatehouse serve` with the kubeconfig of c, without waiting.
// KUBECONFIG is emptied so the developer's own cluster is never used.
func launch(t *testing.T, policyDir, kubeconfig string, extra ...string) *gatehouse {
	t.Helper()
	args := append([]string{"--policy-dir", policyDir, "--kubeconfig", kubeconfig}, extra...)
	return &gatehouse{Proc: gatehouseproc.StartEnv(t, gatehouseBin, []string{"KUBECONFIG="}, args...), t: t}
}

// kubeStatus is the part of /api/v1/status the tests look at.
type kubeStatus struct {
	Ready      bool   `json:"ready"`
	WaitingFor string `json:"waiting_for"`
	Kube       *struct {
		Reachable bool          `json:"reachable"`
		LastError string        `json:"last_error"`
		Synced    bool          `json:"synced"`
		Services  []kubeService `json:"services"`
	} `json:"kubernetes"`
}

type kubeService struct {
	Name      string `json:"name"`
	Endpoints int    `json:"endpoints"`
	Draining  int    `json:"draining"`
	NotReady  int    `json:"not_ready"`
	Slices    int    `json:"slices"`
	State     string `json:"state"`
}

// only is the one policy Service of the status (false when there is not
// exactly one).
func (st kubeStatus) only() (kubeService, bool) {
	if st.Kube == nil || len(st.Kube.Services) != 1 {
		return kubeService{}, false
	}
	return st.Kube.Services[0], true
}

// policy is a Gateway and, per name, a GRPC Service discovered from the
// Kubernetes Service of that name in namespace ns, with a Route for
// NAME.test.
func policy(ns, port string, names ...string) string {
	var b strings.Builder
	b.WriteString("kind: Gateway\nname: public\nspec:\n  listeners:\n    - {name: http, port: 8080, protocol: HTTP}\n")
	for _, n := range names {
		fmt.Fprintf(&b, "---\nkind: Service\nname: %s\nspec:\n  protocol: GRPC\n  discovery:\n    kubernetes: {service: %s, namespace: %s, port: %q}\n", n, n, ns, port)
		fmt.Fprintf(&b, "---\nkind: Route\nname: %s\nspec:\n  gateways: [public]\n  hosts: [%s.test]\n  backends: [{service: %s}]\n", n, n, n)
	}
	return b.String()
}

func writePolicy(t *testing.T, dir, body string) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-policy.yaml")
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "policy.yaml")); err != nil {
		t.Fatal(err)
	}
}

// ep is one endpoint of a slice (its port is the slice's).
type ep struct {
	ip                        string
	ready, serving, terminate *bool
	zone                      string
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

// slice is an EndpointSlice of service with one port (named portName) and
// the given endpoints.
func slice(name, service, portName string, port int, eps ...ep) *discoveryv1.EndpointSlice {
	p := int32(port)
	proto := corev1.ProtocolTCP
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			discoveryv1.LabelServiceName: service,
			discoveryv1.LabelManagedBy:   "kubetest",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &portName, Port: &p, Protocol: &proto}},
	}
	for _, e := range eps {
		var zone *string
		if e.zone != "" {
			z := e.zone
			zone = &z
		}
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminate},
			Zone:       zone,
		})
	}
	return sl
}

// put creates or replaces sl in ns.
func (c *cluster) put(t *testing.T, ns string, sl *discoveryv1.EndpointSlice) {
	t.Helper()
	api := c.Admin().DiscoveryV1().EndpointSlices(ns)
	cur, err := api.Get(kubetest.Ctx(t), sl.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = api.Create(kubetest.Ctx(t), sl, metav1.CreateOptions{})
	case err == nil:
		sl.ResourceVersion = cur.ResourceVersion
		_, err = api.Update(kubetest.Ctx(t), sl, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatalf("putting EndpointSlice %s/%s: %v", ns, sl.Name, err)
	}
}

func (c *cluster) del(t *testing.T, ns, name string) {
	t.Helper()
	if err := c.Admin().DiscoveryV1().EndpointSlices(ns).Delete(kubetest.Ctx(t), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting EndpointSlice %s/%s: %v", ns, name, err)
	}
}

type backend = gatehouseproc.Backend

func xdsClient(t *testing.T, g *gatehouse, node, host string) testpb.TestServiceClient {
	t.Helper()
	return gatehouseproc.XDSClient(t, gatehouseBin, g.XDSAddr, "public", node, host)
}

func call(c testpb.TestServiceClient) string { return gatehouseproc.Call(c) }

func (g *gatehouse) status() kubeStatus { return gatehouseproc.Status[kubeStatus](g.t, g.Proc) }

// waitStatus polls the status until ok holds, or fails past bound.
func (g *gatehouse) waitStatus(what string, bound time.Duration, ok func(kubeStatus) bool) time.Duration {
	g.t.Helper()
	return gatehouseproc.WaitStatus(g.t, g.Proc, what, bound, ok)
}

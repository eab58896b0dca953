package kubeproc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/test/testutil/gatehouseproc"
)

// TestInClusterConfig: with neither --kubeconfig nor KUBECONFIG, gatehouse
// takes the in-cluster configuration, as in a pod: the API server from
// KUBERNETES_SERVICE_HOST/PORT, the service account's token and the CA
// that signs the API server's certificate (verified: no insecure TLS),
// here from --kubernetes-service-account-dir since the kubelet's fixed
// path cannot be written in a test. A CA that did not sign the API
// server's certificate keeps it unreachable.
func TestInClusterConfig(t *testing.T) {
	c := startCluster(t)
	ip, port := pods(t, "cart-a")
	c.put(t, "shop", slice("cart-a", "cart", "grpc", port["cart-a"], ep{ip: ip}))
	// The API server's self-signed certificate file holds its CA too.
	ca, err := os.ReadFile(filepath.Join(c.Dir(), "certs", "apiserver.crt"))
	if err != nil {
		t.Fatal(err)
	}
	sa := t.TempDir()
	if err := os.WriteFile(filepath.Join(sa, "token"), []byte(c.GatehouseToken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sa, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writePolicy(t, dir, policy("shop", "grpc", "cart"))
	env := []string{"KUBECONFIG=", "KUBERNETES_SERVICE_HOST=127.0.0.1", "KUBERNETES_SERVICE_PORT=" + strconv.Itoa(c.Port)}
	g := &gatehouse{Proc: gatehouseproc.StartEnv(t, gatehouseBin, env, "--policy-dir", dir, "--kubernetes-service-account-dir", sa), t: t}
	t.Logf("gatehouse ready in %v with in-cluster config", g.WaitReady(60*time.Second).Round(time.Millisecond))
	gatehouseproc.WaitAnswer(t, xdsClient(t, g, "node-1", "cart.test"), "cart-a", 20*time.Second)
	if _, body := g.Get("/api/v1/status"); !strings.Contains(strings.Join(strings.Fields(body), ""), `"config":"in-cluster"`) {
		t.Errorf("status does not say in-cluster: %s", gatehouseproc.Tail(body, 2000))
	}

	// A CA that did not sign the API server's certificate: no connection.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "token"), []byte(c.GatehouseToken), 0o600)
	os.WriteFile(filepath.Join(other, "ca.crt"), selfSignedPEM(t), 0o644)
	g2 := &gatehouse{Proc: gatehouseproc.StartEnv(t, gatehouseBin, env, "--policy-dir", dir, "--kubernetes-service-account-dir", other), t: t}
	g2.WaitHealthy(30 * time.Second)
	g2.waitStatus("unreachable with the wrong CA", 20*time.Second, func(st kubeStatus) bool {
		return !st.Ready && st.Kube != nil && !st.Kube.Reachable && strings.Contains(st.Kube.LastError, "certificate")
	})
}

// selfSignedPEM is a CA certificate unrelated to the API server's.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

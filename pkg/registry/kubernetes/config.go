package kubernetes

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	certutil "k8s.io/client-go/util/cert"

	"github.com/gatehouse-dev/gatehouse/pkg/registry"
)

// Config configures a Source. Zero values take the defaults noted.
type Config struct {
	// Kubeconfig is a kubeconfig file (--kubeconfig). "" uses $KUBECONFIG
	// (a list of files, as kubectl reads it), else the in-cluster service
	// account.
	Kubeconfig string
	// ServiceAccountDir holds the in-cluster credentials (token, ca.crt),
	// used when neither Kubeconfig nor $KUBECONFIG is set; default
	// DefaultServiceAccountDir, where the kubelet mounts them.
	ServiceAccountDir string
	// REST, if set, is used instead of Kubeconfig.
	REST *rest.Config
	// AllNamespaces watches EndpointSlices cluster-wide with one informer
	// instead of one informer per referenced namespace (fewer watches when
	// policies reference many namespaces; needs a ClusterRoleBinding).
	AllNamespaces bool
	// OnUpdate receives every Service's endpoints, keyed by policy Service
	// name, whenever one of them changes. A Service absent from the map has
	// not been synced yet. Called from one goroutine at a time.
	OnUpdate func(registry.Snapshot)

	ProbeInterval time.Duration // how often the API server's /readyz is probed (default 5s)
	ProbeTimeout  time.Duration // bound of one probe (default 5s)
}

func (c *Config) defaults() {
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = 5 * time.Second
	}
	if c.ProbeTimeout <= 0 {
		c.ProbeTimeout = 5 * time.Second
	}
}

// restConfig finds the API server and credentials: Config.REST, else the
// kubeconfig file, else $KUBECONFIG, else in-cluster.
func (c *Config) restConfig() (*rest.Config, string, error) {
	if c.REST != nil {
		return rest.CopyConfig(c.REST), "rest config", nil
	}
	if c.Kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
		if err != nil {
			return nil, "--kubeconfig " + c.Kubeconfig, fmt.Errorf("kubeconfig %s: %w", c.Kubeconfig, err)
		}
		return rc, "--kubeconfig " + c.Kubeconfig, nil
	}
	if env := os.Getenv("KUBECONFIG"); env != "" {
		rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(env)}
		rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if err != nil {
			return nil, "KUBECONFIG", fmt.Errorf("KUBECONFIG %s: %w", env, err)
		}
		return rc, "KUBECONFIG", nil
	}
	rc, err := inClusterConfig(c.ServiceAccountDir)
	if err != nil {
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, "in-cluster", fmt.Errorf("no Kubernetes API server: give --kubeconfig or KUBECONFIG, or run in a pod (%w)", err)
		}
		return nil, "in-cluster", fmt.Errorf("in-cluster config: %w", err)
	}
	return rc, "in-cluster", nil
}

// DefaultServiceAccountDir is where the kubelet mounts a pod's service
// account credentials (client-go's rest.InClusterConfig reads only there).
const DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// inClusterConfig is client-go's rest.InClusterConfig (API server from
// KUBERNETES_SERVICE_HOST and _PORT, the service account's token and CA)
// with the credentials directory as a parameter, so that tests (and pods
// mounting the token elsewhere) can point it at other files. The token is
// given as a file: client-go re-reads it, so a rotated (projected) token
// is picked up, as with InClusterConfig.
func inClusterConfig(dir string) (*rest.Config, error) {
	if dir == "" {
		dir = DefaultServiceAccountDir
	}
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, rest.ErrNotInCluster
	}
	tokenFile, caFile := filepath.Join(dir, "token"), filepath.Join(dir, "ca.crt")
	token, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("service account token: %w", err)
	}
	if _, err := certutil.NewPool(caFile); err != nil {
		return nil, fmt.Errorf("service account CA %s: %w", caFile, err)
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort(host, port),
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
		BearerToken:     string(token),
		BearerTokenFile: tokenFile,
	}, nil
}

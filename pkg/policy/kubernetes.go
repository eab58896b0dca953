package policy

import (
	"regexp"
	"strconv"
)

// Kubernetes object names, as the API server validates them
// (k8s.io/apimachinery/pkg/util/validation): a Service name is a DNS-1035
// label, a namespace a DNS-1123 label, a port name an IANA service name
// style DNS label. Checking them here turns a typo into a load error naming
// the field instead of a Service that silently never gets endpoints.
var (
	k8sDNS1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	k8sDNS1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	k8sDigits  = regexp.MustCompile(`^[0-9]+$`)
)

// DefaultKubernetesNamespace is the namespace of a kubernetes discovery
// that names none.
const DefaultKubernetesNamespace = "default"

func validateKubernetes(o *objErrs, p string, k *KubernetesDiscovery) {
	switch {
	case k.Service == "":
		o.add(p+".service", "required: the Kubernetes Service name")
	case !k8sDNS1035.MatchString(k.Service):
		o.add(p+".service", "%q is not a Kubernetes Service name (lowercase letters, digits and '-', starting with a letter, at most 63)", k.Service)
	}
	if o.has(p+".namespace") && !k8sDNS1123.MatchString(k.Namespace) {
		o.add(p+".namespace", "%q is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63)", k.Namespace)
	}
	if k.Port == "" {
		return
	}
	if k8sDigits.MatchString(k.Port) {
		if n, err := strconv.Atoi(k.Port); err != nil || n < 1 || n > 65535 {
			o.add(p+".port", "%s is out of range; a port number is 1..65535", k.Port)
		}
		return
	}
	if !k8sDNS1123.MatchString(k.Port) {
		o.add(p+".port", "%q is neither a port number (1..65535) nor a Kubernetes port name (lowercase letters, digits and '-', at most 63)", k.Port)
	}
}

// NamespaceOrDefault is the namespace the discovery reads.
func (k KubernetesDiscovery) NamespaceOrDefault() string {
	if k.Namespace == "" {
		return DefaultKubernetesNamespace
	}
	return k.Namespace
}

package kubetest

import (
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

// ApplyRBAC creates the objects of an RBAC manifest (ServiceAccount,
// ClusterRole, ClusterRoleBinding, Role, RoleBinding; the namespaces they
// name are created first) as the admin.
func (s *Server) ApplyRBAC(path string) {
	s.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		s.t.Fatal(err)
	}
	c := s.Admin()
	for _, doc := range strings.Split(string(b), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			s.t.Fatalf("%s: %v", path, err)
		}
		ctx := Ctx(s.t)
		switch o := obj.(type) {
		case *corev1.ServiceAccount:
			s.EnsureNamespace(o.Namespace)
			_, err = c.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRole:
			_, err = c.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.ClusterRoleBinding:
			_, err = c.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.Role:
			s.EnsureNamespace(o.Namespace)
			_, err = c.RbacV1().Roles(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *rbacv1.RoleBinding:
			s.EnsureNamespace(o.Namespace)
			_, err = c.RbacV1().RoleBindings(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			s.t.Fatalf("%s: kubetest does not apply %T", path, obj)
		}
		if err != nil {
			s.t.Fatalf("%s: creating %T: %v", path, obj, err)
		}
	}
}

// EnsureNamespace creates namespace ns unless it exists.
func (s *Server) EnsureNamespace(ns string) {
	s.t.Helper()
	_, err := s.Admin().CoreV1().Namespaces().Create(Ctx(s.t), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		s.t.Fatalf("creating namespace %s: %v", ns, err)
	}
}

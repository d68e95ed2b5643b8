// Package deploy checks the manifests of this directory: both overlays
// are rendered with kustomize's own library and every object is decoded
// strictly (unknown or misspelt fields fail) into its Kubernetes API type.
// It is a package of its own so that the layerwise binary does not link
// kustomize and the Kubernetes API types.
package deploy

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"layerwise/jobs/openshift"
	"layerwise/settings"
	"layerwise/store"
	"layerwise/store/storetest"
	"layerwise/web"
)

// route is route.openshift.io/v1 Route with every field of its API
// reference (OpenShift's types are not in k8s.io/api), so that the
// strict decoding refuses a field OpenShift does not have.
type route struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Host      string `json:"host,omitempty"`
		Subdomain string `json:"subdomain,omitempty"`
		Path      string `json:"path,omitempty"`
		To        struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Weight *int32 `json:"weight,omitempty"`
		} `json:"to"`
		AlternateBackends []struct {
			Kind   string `json:"kind"`
			Name   string `json:"name"`
			Weight *int32 `json:"weight,omitempty"`
		} `json:"alternateBackends,omitempty"`
		Port *struct {
			TargetPort intstr.IntOrString `json:"targetPort"`
		} `json:"port,omitempty"`
		TLS *struct {
			Termination                   string `json:"termination"`
			Certificate                   string `json:"certificate,omitempty"`
			Key                           string `json:"key,omitempty"`
			CACertificate                 string `json:"caCertificate,omitempty"`
			DestinationCACertificate      string `json:"destinationCACertificate,omitempty"`
			InsecureEdgeTerminationPolicy string `json:"insecureEdgeTerminationPolicy,omitempty"`
			ExternalCertificate           *struct {
				Name string `json:"name"`
			} `json:"externalCertificate,omitempty"`
		} `json:"tls,omitempty"`
		WildcardPolicy string `json:"wildcardPolicy,omitempty"`
		HTTPHeaders    any    `json:"httpHeaders,omitempty"`
	} `json:"spec"`
}

// rendered is one kustomization's output, by kind.
type rendered struct {
	namespace  string
	deployment *appsv1.Deployment
	service    *corev1.Service
	account    *corev1.ServiceAccount
	role       *rbacv1.ClusterRole
	binding    *rbacv1.ClusterRoleBinding
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
	pvcs       map[string]*corev1.PersistentVolumeClaim
	pdb        *policyv1.PodDisruptionBudget
	route      *route
	ingress    *networkingv1.Ingress
	kinds      []string
}

// render builds a kustomization of this directory (dir is relative to it)
// in memory: the secrets/ files an installer writes are replaced by
// placeholders, so no real credential is read here.
func render(t *testing.T, dir string, extra map[string]string) *rendered {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".env") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile("/deploy/"+p, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"sqlite", "postgres"} {
		for _, f := range []string{"webhook-token", "metrics-token", "smtp-password", "oidc-client-secret", "db-dsn"} {
			if err := mem.WriteFile("/deploy/overlays/"+o+"/secrets/"+f, []byte("placeholder-"+f+"\n")); err != nil {
				t.Fatal(err)
			}
		}
	}
	for p, content := range extra {
		if err := mem.WriteFile("/deploy/"+p, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, "/deploy/"+dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := &rendered{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}, pvcs: map[string]*corev1.PersistentVolumeClaim{}}
	for _, r := range res.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		kind, api := r.GetKind(), r.GetApiVersion()
		id := fmt.Sprintf("%s %s/%s", kind, r.GetNamespace(), r.GetName())
		out.kinds = append(out.kinds, kind)
		var obj any
		switch api + " " + kind {
		case "v1 ServiceAccount":
			out.account = &corev1.ServiceAccount{}
			obj = out.account
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			out.configMaps[r.GetName()], obj = cm, cm
		case "v1 Secret":
			s := &corev1.Secret{}
			out.secrets[r.GetName()], obj = s, s
		case "v1 Service":
			out.service = &corev1.Service{}
			obj = out.service
		case "v1 PersistentVolumeClaim":
			c := &corev1.PersistentVolumeClaim{}
			out.pvcs[r.GetName()], obj = c, c
		case "apps/v1 Deployment":
			out.deployment = &appsv1.Deployment{}
			obj = out.deployment
		case "rbac.authorization.k8s.io/v1 ClusterRole":
			out.role = &rbacv1.ClusterRole{}
			obj = out.role
		case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
			out.binding = &rbacv1.ClusterRoleBinding{}
			obj = out.binding
		case "policy/v1 PodDisruptionBudget":
			out.pdb = &policyv1.PodDisruptionBudget{}
			obj = out.pdb
		case "networking.k8s.io/v1 Ingress":
			out.ingress = &networkingv1.Ingress{}
			obj = out.ingress
		case "route.openshift.io/v1 Route":
			out.route = &route{}
			obj = out.route
		default:
			t.Fatalf("%s: %s %s is not a kind this test knows; add its type", dir, api, kind)
		}
		strict, err := sigsjson.UnmarshalStrict(b, obj)
		if err != nil {
			t.Fatalf("%s: %s: %v", dir, id, err)
		}
		for _, e := range strict {
			t.Errorf("%s: %s: %v", dir, id, e)
		}
		if ns := r.GetNamespace(); kind != "ClusterRole" && kind != "ClusterRoleBinding" {
			if out.namespace == "" {
				out.namespace = ns
			}
			if ns == "" || ns != out.namespace {
				t.Errorf("%s: %s is in namespace %q, the rest in %q", dir, id, ns, out.namespace)
			}
		}
	}
	sort.Strings(out.kinds)
	if out.deployment == nil || out.service == nil || out.account == nil || out.role == nil || out.binding == nil {
		t.Fatalf("%s renders %v: want a Deployment, Service, ServiceAccount, ClusterRole and ClusterRoleBinding", dir, out.kinds)
	}
	return out
}

func TestOverlays(t *testing.T) {
	for _, tc := range []struct {
		dir      string
		kinds    []string
		replicas int32
		strategy appsv1.DeploymentStrategyType
	}{
		{"overlays/sqlite",
			[]string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PersistentVolumeClaim", "Route", "Secret", "Service", "ServiceAccount"},
			1, appsv1.RecreateDeploymentStrategyType},
		{"overlays/postgres",
			[]string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PodDisruptionBudget", "Route", "Secret", "Secret", "Service", "ServiceAccount"},
			2, appsv1.RollingUpdateDeploymentStrategyType},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			r := render(t, tc.dir, nil)
			if !slices.Equal(r.kinds, tc.kinds) {
				t.Errorf("renders %v, want %v", r.kinds, tc.kinds)
			}
			d := r.deployment
			if d.Spec.Replicas == nil || *d.Spec.Replicas != tc.replicas || d.Spec.Strategy.Type != tc.strategy {
				t.Fatalf("replicas %d, strategy %q; want %d, %q", ptrValue(d.Spec.Replicas), d.Spec.Strategy.Type, tc.replicas, tc.strategy)
			}
			checkSecurity(t, d)
			checkResources(t, r)
			checkSettings(t, r)
			checkRBAC(t, r)
			checkService(t, r)
			checkRoute(t, r)
			switch tc.dir {
			case "overlays/sqlite":
				checkSQLite(t, r)
			case "overlays/postgres":
				checkPostgres(t, r)
			}
		})
	}
}

// The Ingress component, in place of the Route, for Kubernetes.
func TestIngressComponent(t *testing.T) {
	r := render(t, "overlays/ingress-test", map[string]string{"overlays/ingress-test/kustomization.yaml": `
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: layerwise
resources: [../../base]
components: [../../components/ingress]
secretGenerator:
  - name: layerwise-secrets
    literals: [webhook-token=, metrics-token=, smtp-password=, oidc-client-secret=]
`})
	if r.route != nil || r.ingress == nil {
		t.Fatalf("renders %v: want an Ingress and no Route", r.kinds)
	}
	in := r.ingress
	if len(in.Spec.Rules) != 1 || in.Spec.Rules[0].HTTP == nil || len(in.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("want one rule with one path: %+v", in.Spec.Rules)
	}
	b := in.Spec.Rules[0].HTTP.Paths[0].Backend.Service
	if b == nil || b.Name != r.service.Name || b.Port.Name != "http" || !servicePort(r.service, "http") {
		t.Errorf("the Ingress sends to %+v, not the Service %s port http", b, r.service.Name)
	}
	if len(in.Spec.TLS) != 1 || !slices.Contains(in.Spec.TLS[0].Hosts, in.Spec.Rules[0].Host) {
		t.Errorf("the Ingress host %q is not served with TLS: %+v", in.Spec.Rules[0].Host, in.Spec.TLS)
	}
}

func container(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, have %d", len(d.Spec.Template.Spec.Containers))
	}
	return &d.Spec.Template.Spec.Containers[0]
}

// checkSecurity: what OpenShift's restricted-v2 SCC admits (and the
// Kubernetes "restricted" pod security standard asks), with no UID or
// group asked for, so that an arbitrary UID is assigned.
func checkSecurity(t *testing.T, d *appsv1.Deployment) {
	pod := d.Spec.Template.Spec
	c := container(t, d)
	ps, cs := pod.SecurityContext, c.SecurityContext
	if ps == nil || cs == nil {
		t.Fatal("the pod and the container need a securityContext")
	}
	if ps.RunAsUser != nil || ps.RunAsGroup != nil || ps.FSGroup != nil || cs.RunAsUser != nil || cs.RunAsGroup != nil {
		t.Error("a fixed UID, GID or fsGroup: restricted-v2 assigns them from the namespace's range")
	}
	if !isTrue(ps.RunAsNonRoot) || !isTrue(cs.RunAsNonRoot) {
		t.Error("runAsNonRoot must be true")
	}
	if !isTrue(cs.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation || isTrue(cs.Privileged) {
		t.Error("allowPrivilegeEscalation must be false and the container not privileged")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v: want all dropped and none added", cs.Capabilities)
	}
	for _, sc := range []*corev1.SeccompProfile{ps.SeccompProfile, cs.SeccompProfile} {
		if sc == nil || sc.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("seccompProfile %+v: want RuntimeDefault", sc)
		}
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("host namespaces are not allowed")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
	// A read-only root needs somewhere writable for temporary files.
	if m := mountAt(d, "/tmp"); m == nil || volume(d, m.Name).EmptyDir == nil {
		t.Error("/tmp must be an emptyDir: the root file system is read-only")
	}
}

func ptrValue(n *int32) int32 {
	if n == nil {
		return 1 // the API's default
	}
	return *n
}

func isTrue(b *bool) bool { return b != nil && *b }

// checkResources: requests and limits for CPU and memory, the Go heap's
// soft limit under the hard one.
func checkResources(t *testing.T, r *rendered) {
	c := container(t, r.deployment)
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim || req.Cmp(lim) > 0 {
			t.Errorf("%s: request %v, limit %v: want both, request ≤ limit", name, req.String(), lim.String())
		}
	}
	gomem := envValue(c, "GOMEMLIMIT")
	q, err := resource.ParseQuantity(strings.TrimSuffix(gomem, "B"))
	if lim := c.Resources.Limits[corev1.ResourceMemory]; err != nil || q.Cmp(lim) >= 0 {
		t.Errorf("GOMEMLIMIT %q must be below the memory limit %v (%v)", gomem, lim.String(), err)
	}
}

// env is every variable the container gets, from env and from its
// ConfigMaps (envFrom), with where it comes from.
type envVar struct {
	value  string
	source string // "literal", "configmap NAME", "secret NAME KEY"
}

func containerEnv(t *testing.T, r *rendered) map[string]envVar {
	c := container(t, r.deployment)
	out := map[string]envVar{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil || ef.Prefix != "" {
			t.Fatalf("envFrom %+v: only whole ConfigMaps are expected", ef)
		}
		cm := r.configMaps[ef.ConfigMapRef.Name]
		if cm == nil {
			t.Fatalf("envFrom names the ConfigMap %s, which is not rendered", ef.ConfigMapRef.Name)
		}
		for k, v := range cm.Data {
			out[k] = envVar{v, "configmap " + cm.Name}
		}
	}
	for _, e := range c.Env {
		if _, dup := out[e.Name]; dup {
			t.Errorf("%s is set twice (env and a ConfigMap)", e.Name)
		}
		switch {
		case e.ValueFrom == nil:
			out[e.Name] = envVar{e.Value, "literal"}
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s := r.secrets[ref.Name]
			if s == nil {
				t.Errorf("%s comes from the Secret %s, which is not rendered", e.Name, ref.Name)
			} else if _, ok := s.Data[ref.Key]; !ok {
				t.Errorf("%s comes from key %s of the Secret %s, which has no such key", e.Name, ref.Key, ref.Name)
			}
			out[e.Name] = envVar{"", "secret " + ref.Name + " " + ref.Key}
		default:
			t.Errorf("%s: unexpected valueFrom %+v", e.Name, e.ValueFrom)
		}
	}
	return out
}

func envValue(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// checkSettings: every LAYERWISE_* variable is a setting Layerwise reads
// (package settings, the list the CLI checks its reads against);
// credentials are files from mounted Secrets, never literal values.
func checkSettings(t *testing.T, r *rendered) {
	env := containerEnv(t, r)
	d := r.deployment
	for name, v := range env {
		if !strings.HasPrefix(name, "LAYERWISE_") {
			continue
		}
		s, ok := settings.Lookup(name)
		if !ok {
			t.Errorf("%s (%s) is not a Layerwise setting: it would do nothing", name, v.source)
			continue
		}
		if s.Secret && !strings.HasPrefix(v.source, "secret ") {
			t.Errorf("%s holds a credential: give it as %s_FILE from a mounted Secret, not as a %s value", name, name, v.source)
		}
		if strings.HasSuffix(name, "_FILE") && name != "LAYERWISE_OPENSHIFT_TOKEN_FILE" {
			dir, key := filepath.Split(v.value)
			m := mountAt(d, filepath.Clean(dir))
			if m == nil || volume(d, m.Name).Secret == nil {
				t.Errorf("%s=%s is not in a mounted Secret", name, v.value)
				continue
			}
			sec := r.secrets[volume(d, m.Name).Secret.SecretName]
			if sec == nil {
				t.Errorf("%s: the Secret %s is not rendered", name, volume(d, m.Name).Secret.SecretName)
			} else if _, ok := sec.Data[key]; !ok {
				t.Errorf("%s=%s: the Secret %s has no key %s", name, v.value, sec.Name, key)
			}
		}
	}
	for _, name := range []string{"LAYERWISE_WEBHOOK_TOKEN_FILE", "LAYERWISE_METRICS_TOKEN_FILE", "LAYERWISE_SMTP_PASSWORD_FILE", "LAYERWISE_OIDC_CLIENT_SECRET_FILE", "LAYERWISE_DB", "LAYERWISE_ADDR", "LAYERWISE_OPENSHIFT_URL"} {
		if _, ok := env[name]; !ok {
			t.Errorf("%s is not set", name)
		}
	}
	// The sync's token is the service account's, which the kubelet mounts.
	if env["LAYERWISE_OPENSHIFT_TOKEN_FILE"].value != "/var/run/secrets/kubernetes.io/serviceaccount/token" ||
		!isTrue(r.account.AutomountServiceAccountToken) || isFalse(d.Spec.Template.Spec.AutomountServiceAccountToken) {
		t.Error("the OpenShift sync must use the mounted service account token")
	}
	// The probes reach the server from outside the pod.
	host, port, err := net.SplitHostPort(env["LAYERWISE_ADDR"].value)
	c := container(t, d)
	if err != nil || host != "0.0.0.0" || len(c.Ports) != 1 || fmt.Sprint(c.Ports[0].ContainerPort) != port || c.Ports[0].Name != "http" {
		t.Errorf("LAYERWISE_ADDR %q must listen on 0.0.0.0 at the container port named http (%+v)", env["LAYERWISE_ADDR"].value, c.Ports)
	}
}

func isFalse(b *bool) bool { return b != nil && !*b }

func mountAt(d *appsv1.Deployment, path string) *corev1.VolumeMount {
	for i, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		if filepath.Clean(m.MountPath) == path {
			return &d.Spec.Template.Spec.Containers[0].VolumeMounts[i]
		}
	}
	return nil
}

func volume(d *appsv1.Deployment, name string) *corev1.Volume {
	for i, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return &d.Spec.Template.Spec.Volumes[i]
		}
	}
	return &corev1.Volume{}
}

// checkRBAC: the ClusterRole grants exactly what the OpenShift sync
// requests (openshift.Reads with openshift.ListVerb), to the pods' account.
func checkRBAC(t *testing.T, r *rendered) {
	var granted, requested []string
	for _, rule := range r.role.Rules {
		if len(rule.ResourceNames) > 0 || len(rule.NonResourceURLs) > 0 {
			t.Errorf("rule %+v: resourceNames and nonResourceURLs are not expected", rule)
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					granted = append(granted, g+"/"+res+" "+v)
				}
			}
		}
	}
	for _, c := range openshift.Reads() {
		requested = append(requested, c.Group+"/"+c.Resource+" "+openshift.ListVerb)
	}
	sort.Strings(granted)
	sort.Strings(requested)
	if !slices.Equal(granted, requested) {
		t.Errorf("the ClusterRole grants %v; the sync requests %v", granted, requested)
	}
	b := r.binding
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != r.role.Name || b.RoleRef.APIGroup != rbacv1.GroupName {
		t.Errorf("the binding refers to %+v, not the ClusterRole %s", b.RoleRef, r.role.Name)
	}
	sa := r.deployment.Spec.Template.Spec.ServiceAccountName
	if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != sa || sa != r.account.Name ||
		b.Subjects[0].Namespace != r.namespace {
		t.Errorf("the binding's subjects %+v are not the pods' account %s/%s", b.Subjects, r.namespace, sa)
	}
}

func servicePort(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name && p.TargetPort == intstr.FromString("http") {
			return true
		}
	}
	return false
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkService: the Service selects the pods and targets their port.
func checkService(t *testing.T, r *rendered) {
	pods := r.deployment.Spec.Template.Labels
	if !selects(r.service.Spec.Selector, pods) || !selects(r.deployment.Spec.Selector.MatchLabels, pods) {
		t.Errorf("the Service (%v) or the Deployment (%v) does not select the pods (%v)", r.service.Spec.Selector, r.deployment.Spec.Selector.MatchLabels, pods)
	}
	if !servicePort(r.service, "http") {
		t.Errorf("the Service has no port http targeting the container's port http: %+v", r.service.Spec.Ports)
	}
}

// checkRoute: TLS at the router, HTTP redirected, to the Service.
func checkRoute(t *testing.T, r *rendered) {
	rt := r.route
	if rt == nil {
		t.Fatal("no Route")
	}
	if rt.Spec.To.Kind != "Service" || rt.Spec.To.Name != r.service.Name || rt.Spec.Port == nil || rt.Spec.Port.TargetPort != intstr.FromString("http") {
		t.Errorf("the Route goes to %+v port %+v, not the Service %s port http", rt.Spec.To, rt.Spec.Port, r.service.Name)
	}
	if rt.Spec.TLS == nil || rt.Spec.TLS.Termination != "edge" || rt.Spec.TLS.InsecureEdgeTerminationPolicy != "Redirect" {
		t.Errorf("the Route's TLS %+v: want edge termination, HTTP redirected", rt.Spec.TLS)
	}
	if base := containerEnv(t, r)["LAYERWISE_BASE_URL"].value; base != "https://"+rt.Spec.Host {
		t.Errorf("LAYERWISE_BASE_URL %q is not the Route's host %q: links in e-mails and the OIDC redirect would be wrong", base, rt.Spec.Host)
	}
}

// checkSQLite: the database file is on the claim, written by one pod.
func checkSQLite(t *testing.T, r *rendered) {
	d := r.deployment
	db := containerEnv(t, r)["LAYERWISE_DB"].value
	m := mountAt(d, filepath.Dir(db))
	if m == nil || volume(d, m.Name).PersistentVolumeClaim == nil || m.ReadOnly {
		t.Fatalf("LAYERWISE_DB=%s is not on a writable PersistentVolumeClaim", db)
	}
	claim := r.pvcs[volume(d, m.Name).PersistentVolumeClaim.ClaimName]
	if claim == nil || !slices.Contains(claim.Spec.AccessModes, corev1.ReadWriteOnce) {
		t.Errorf("the claim %s is not rendered or not ReadWriteOnce", volume(d, m.Name).PersistentVolumeClaim.ClaimName)
	}
}

// checkPostgres: the DSN (it holds a password) comes from a Secret, and
// the disruption budget keeps a pod of the Deployment serving.
func checkPostgres(t *testing.T, r *rendered) {
	if src := containerEnv(t, r)["LAYERWISE_DB"].source; src != "secret layerwise-db dsn" && !strings.HasPrefix(src, "secret layerwise-db-") {
		t.Errorf("LAYERWISE_DB comes from %s, not the Secret layerwise-db", src)
	}
	p := r.pdb
	if p == nil {
		t.Fatal("no PodDisruptionBudget")
	}
	if p.Spec.Selector == nil || !selects(p.Spec.Selector.MatchLabels, r.deployment.Spec.Template.Labels) {
		t.Errorf("the PodDisruptionBudget selects %v, not the pods", p.Spec.Selector)
	}
	if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() < 1 || int32(p.Spec.MinAvailable.IntValue()) >= *r.deployment.Spec.Replicas {
		t.Errorf("minAvailable %v with %d replicas: want at least one and fewer than the replicas", p.Spec.MinAvailable, *r.deployment.Spec.Replicas)
	}
}

// The probes' paths are served by the real server, without credentials
// (a probe sends none) even once accounts exist: liveness and start-up
// as soon as it listens, readiness once usage is computed.
func TestProbesAnswer(t *testing.T) {
	r := render(t, "overlays/sqlite", nil)
	c := container(t, r.deployment)
	probes := map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe}
	want := map[string]string{"startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"}

	ctx := context.Background()
	s, err := store.Open(ctx, storetest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateUser(ctx, "admin", "a-long-password", true); err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Addr: "127.0.0.1:0", Threshold: 50 << 30, Policy: store.DefaultPolicy, SnapshotSchedule: "@daily", NoJobs: true},
		s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) int {
		resp, err := noRedirect.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Ready at once: the usage figures are stored, no first pass to wait for.
	if code := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz answers %d on a server whose database answers", code)
	}
	for name, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("no %s probe over HTTP", name)
			continue
		}
		if p.HTTPGet.Path != want[name] || p.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("%s probe: GET %s on port %v, want %s on port http", name, p.HTTPGet.Path, p.HTTPGet.Port.String(), want[name])
		}
		if code := get(p.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("%s probe: GET %s answers %d without credentials, want 200", name, p.HTTPGet.Path, code)
		}
	}
	if get("/") == http.StatusOK {
		t.Fatal("the overview answers without credentials: the probes' check proves nothing")
	}
}

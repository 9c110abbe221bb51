// Command upstream prints, as JSON, facts of the k8s.io/kubernetes version it is built against:
// the system:kube-scheduler ClusterRole under default feature gates, every feature gate's default,
// and the objects with fixed names that the control plane and kubeadm create. Built per version by
// scripts/k8s-upstream.sh inside that version's wrapper module, so the project's per-version tables
// are checked against upstream's own code, not a copy of it.
//
// Every name under "objects" comes from an upstream identifier (a function, an exported constant or
// an exported manifest template); only the kinds and, where upstream passes
// metav1.NamespaceSystem/NamespacePublic at the call site, the namespaces are written here. The
// identifiers used exist in every supported minor (v1.29 to v1.37), so one file compiles against
// all of them.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	flowcontrolbootstrap "k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"k8s.io/component-base/featuregate"
	leadermigration "k8s.io/controller-manager/pkg/leadermigration/config"
	kubeadmconstants "k8s.io/kubernetes/cmd/kubeadm/app/constants"
	kubeadmdns "k8s.io/kubernetes/cmd/kubeadm/app/phases/addons/dns"
	kubeadmproxy "k8s.io/kubernetes/cmd/kubeadm/app/phases/addons/proxy"
	"k8s.io/kubernetes/cmd/kubeadm/app/phases/bootstraptoken/clusterinfo"
	"k8s.io/kubernetes/cmd/kubeadm/app/phases/uploadconfig"
	schedulingv1 "k8s.io/kubernetes/pkg/apis/scheduling/v1"
	"k8s.io/kubernetes/pkg/controller/certificates/rootcacertpublisher"
	"k8s.io/kubernetes/pkg/controller/serviceaccount"
	"k8s.io/kubernetes/pkg/controlplane/controller/defaultservicecidr"
	"k8s.io/kubernetes/pkg/controlplane/controller/legacytokentracking"
	_ "k8s.io/kubernetes/pkg/features" // registers the kube gates in the default gate
	schedulerlatest "k8s.io/kubernetes/pkg/scheduler/apis/config/latest"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
	"sigs.k8s.io/yaml"
)

type facts struct {
	SchedulerRules []rbacv1.PolicyRule `json:"schedulerRules"`
	Gates          map[string]bool     `json:"gates"`
	Objects        []object            `json:"objects"`
}

// object is one object with a fixed name. Namespace is "" for cluster-scoped kinds and "*" for an
// object that exists in every namespace.
type object struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// anyNamespace marks an object a controller creates in every namespace.
const anyNamespace = "*"

type objects map[object]bool

func (o objects) add(kind, namespace, name string) {
	if name == "" {
		fail(fmt.Errorf("empty %s name in namespace %q", kind, namespace))
	}
	o[object{Kind: kind, Namespace: namespace, Name: name}] = true
}

func (o objects) sorted() []object {
	out := make([]object, 0, len(o))
	for obj := range o {
		out = append(out, obj)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "upstream:", err)
	os.Exit(1)
}

// addNamed adds every element of a bootstrap list (PriorityClasses, FlowSchemas, ...): their Go
// types differ between minors, their names do not need to know.
func addNamed[T interface{ GetName() string }](o objects, kind, namespace string, items []T) {
	for _, item := range items {
		o.add(kind, namespace, item.GetName())
	}
}

// addSubjects adds the ServiceAccounts a binding names as subjects: the bootstrap controller
// bindings name the kube-system accounts kube-controller-manager creates for its controllers
// (--use-service-account-credentials), the others the accounts of kube-proxy, kube-dns, ...
func addSubjects(o objects, bindingNamespace string, subjects []rbacv1.Subject) {
	for _, s := range subjects {
		if s.Kind != rbacv1.ServiceAccountKind {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = bindingNamespace
		}
		o.add("ServiceAccount", ns, s.Name)
	}
}

// bootstrapPolicy: what kube-apiserver's RBAC post-start hook reconciles
// (pkg/registry/rbac/rest/storage_rbac.go) from plugin/pkg/auth/authorizer/rbac/bootstrappolicy.
func bootstrapPolicy(o objects) {
	for _, r := range bootstrappolicy.ClusterRoles() {
		o.add("ClusterRole", "", r.Name)
	}
	for _, r := range bootstrappolicy.ControllerRoles() {
		o.add("ClusterRole", "", r.Name)
	}
	for _, b := range bootstrappolicy.ClusterRoleBindings() {
		o.add("ClusterRoleBinding", "", b.Name)
		addSubjects(o, "", b.Subjects)
	}
	for _, b := range bootstrappolicy.ControllerRoleBindings() {
		o.add("ClusterRoleBinding", "", b.Name)
		addSubjects(o, "", b.Subjects)
	}
	for ns, roles := range bootstrappolicy.NamespaceRoles() {
		for _, r := range roles {
			o.add("Role", ns, r.Name)
		}
	}
	for ns, bindings := range bootstrappolicy.NamespaceRoleBindings() {
		for _, b := range bindings {
			o.add("RoleBinding", ns, b.Name)
			addSubjects(o, ns, b.Subjects)
		}
	}
}

// authenticationConfigMap: kube-apiserver publishes its client-CA and request-header settings in a
// kube-system ConfigMap whose name is an unexported constant (configMapName in
// pkg/controlplane/controller/clusterauthenticationtrust and authenticationConfigMapName in
// k8s.io/apiserver/pkg/server/options/authentication.go). The nearest exported source is the
// bootstrap Role that lets extension API servers read it: its configmaps resourceNames.
func authenticationConfigMap(o objects) {
	const reader = "extension-apiserver-authentication-reader"
	found := false
	for _, r := range bootstrappolicy.NamespaceRoles()[metav1.NamespaceSystem] {
		if r.Name != reader {
			continue
		}
		for _, rule := range r.Rules {
			for _, res := range rule.Resources {
				if res != "configmaps" {
					continue
				}
				for _, name := range rule.ResourceNames {
					o.add("ConfigMap", metav1.NamespaceSystem, name)
					found = true
				}
			}
		}
	}
	if !found {
		fail(fmt.Errorf("no configmaps resourceNames in the kube-system Role %s", reader))
	}
}

// leases: the leader-election locks of the control-plane components (all "leases" locks, in
// kube-system).
//
// kube-controller-manager's and cloud-controller-manager's defaults are set in
// NewKubeControllerManagerOptions (cmd/kube-controller-manager/app/options/options.go) and
// NewCloudControllerManagerOptions (staging/src/k8s.io/cloud-provider/options/options.go), but
// linking either package registers more gates in the default gate (the init functions of
// k8s.io/apiserver/pkg/server and k8s.io/controller-manager/pkg/features/register), which would
// change "gates". So kube-controller-manager's lock is read where the bootstrap policy reserves it:
// the leases a bootstrap ClusterRole may update by name (system:kube-controller-manager, and
// system:kube-scheduler, in plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go), in the
// namespace both options.go files set (kube-system, metav1.NamespaceSystem).
// cloud-controller-manager's lock has no such second source and is left out.
func leases(o objects) {
	sched, err := schedulerlatest.Default() // kube-scheduler's config defaults
	if err != nil {
		fail(err)
	}
	o.add("Lease", sched.LeaderElection.ResourceNamespace, sched.LeaderElection.ResourceName)

	reserved := 0
	for _, role := range bootstrappolicy.ClusterRoles() {
		for _, rule := range role.Rules {
			if !has(rule.Resources, "leases") || !has(rule.Verbs, "update") {
				continue
			}
			for _, name := range rule.ResourceNames {
				o.add("Lease", metav1.NamespaceSystem, name)
				reserved++
			}
		}
	}
	if reserved == 0 {
		fail(fmt.Errorf("no bootstrap ClusterRole updates a lease by name"))
	}
	// --enable-leader-migration: kube-controller-manager and cloud-controller-manager share a lease
	// of this name in their election namespace (cmd/kube-controller-manager/app/controllermanager.go).
	o.add("Lease", metav1.NamespaceSystem, leadermigration.DefaultLeaderMigrationConfiguration().LeaderName)
	// Not included: the per-instance kube-apiserver identity leases (apiserver-<hash>) and node
	// leases (named after nodes), and coordinated leader election's "leader-election-controller"
	// lock (an unexported constant in pkg/controlplane/controller/leaderelection, behind an
	// alpha/beta gate from 1.31).
}

func has(list []string, item string) bool {
	for _, x := range list {
		if x == item {
			return true
		}
	}
	return false
}

// controlPlane: namespaces, the kubernetes Service, published ConfigMaps, default
// ServiceAccounts, PriorityClasses and API priority-and-fairness objects.
func controlPlane(o objects) {
	// pkg/controlplane: the system namespaces controller, plus kube-node-lease for node leases.
	for _, ns := range []string{metav1.NamespaceSystem, metav1.NamespacePublic, metav1.NamespaceDefault, corev1.NamespaceNodeLease} {
		o.add("Namespace", "", ns)
	}
	// The kubernetes Service (and its Endpoints, EndpointSlice) in default is named by an unexported
	// constant (kubernetesServiceName in pkg/controlplane/controller/kubernetesservice); the default
	// ServiceCIDR that carries its cluster IP has the same name, exported.
	svc := defaultservicecidr.DefaultServiceCIDRName
	o.add("ServiceCIDR", "", svc)
	for _, kind := range []string{"Service", "Endpoints", "EndpointSlice"} {
		o.add(kind, metav1.NamespaceDefault, svc)
	}
	authenticationConfigMap(o)
	o.add("ConfigMap", metav1.NamespaceSystem, legacytokentracking.ConfigMapName)
	// kube-controller-manager's root-ca-cert-publisher and serviceaccount controllers: in every namespace.
	o.add("ConfigMap", anyNamespace, rootcacertpublisher.RootCACertConfigMapName)
	for _, sa := range serviceaccount.DefaultServiceAccountsControllerOptions().ServiceAccounts {
		o.add("ServiceAccount", anyNamespace, sa.Name)
	}
	addNamed(o, "PriorityClass", "", schedulingv1.SystemPriorityClasses())
	addNamed(o, "FlowSchema", "", flowcontrolbootstrap.MandatoryFlowSchemas)
	addNamed(o, "FlowSchema", "", flowcontrolbootstrap.SuggestedFlowSchemas)
	addNamed(o, "PriorityLevelConfiguration", "", flowcontrolbootstrap.MandatoryPriorityLevelConfigurations)
	addNamed(o, "PriorityLevelConfiguration", "", flowcontrolbootstrap.SuggestedPriorityLevelConfigurations)
}

// manifest adds the object of one of kubeadm's addon manifest templates, rendered the way
// kubeadm renders it (kubeadmutil.ParseTemplate is text/template) with the names kubeadm passes.
func manifest(o objects, text string) {
	values := map[string]any{
		"DeploymentName":       kubeadmconstants.CoreDNSDeploymentName,
		"ProxyConfigMap":       kubeadmconstants.KubeProxyConfigMap,
		"ProxyConfigMapKey":    kubeadmconstants.KubeProxyConfigMapKey,
		"ProxyConfig":          "    {}",
		"ControlPlaneEndpoint": "https://127.0.0.1:6443",
		"ControlPlaneTaintKey": kubeadmconstants.LabelNodeRoleControlPlane,
		"DNSDomain":            "cluster.local",
		"DNSIP":                "10.96.0.10",
		"Image":                "image",
		"Replicas":             2,
	}
	tmpl, err := template.New("").Parse(text)
	if err != nil {
		fail(err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, values); err != nil {
		fail(err)
	}
	var meta struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
	}
	if err := yaml.Unmarshal(buf.Bytes(), &meta); err != nil {
		fail(fmt.Errorf("kubeadm manifest: %w\n%s", err, buf.String()))
	}
	if meta.Kind == "" {
		fail(fmt.Errorf("kubeadm manifest without kind:\n%s", buf.String()))
	}
	o.add(meta.Kind, meta.Metadata.Namespace, meta.Metadata.Name)
}

// kubeadm: what `kubeadm init` creates (cmd/kubeadm/app/phases/...), namespaces as passed there.
func kubeadm(o objects) {
	sys, pub := metav1.NamespaceSystem, metav1.NamespacePublic
	// phases/uploadconfig/uploadconfig.go
	o.add("ConfigMap", sys, kubeadmconstants.KubeadmConfigConfigMap)
	o.add("Role", sys, uploadconfig.NodesKubeadmConfigClusterRoleName)
	o.add("RoleBinding", sys, uploadconfig.NodesKubeadmConfigClusterRoleName)
	// phases/kubelet/config.go
	o.add("ConfigMap", sys, kubeadmconstants.KubeletBaseConfigurationConfigMap)
	o.add("Role", sys, kubeadmconstants.KubeletBaseConfigMapRole)
	o.add("RoleBinding", sys, kubeadmconstants.KubeletBaseConfigMapRole)
	// phases/bootstraptoken/clusterinfo/clusterinfo.go
	o.add("ConfigMap", pub, bootstrapapi.ConfigMapClusterInfo)
	o.add("Role", pub, clusterinfo.BootstrapSignerClusterRoleName)
	o.add("RoleBinding", pub, clusterinfo.BootstrapSignerClusterRoleName)
	// phases/bootstraptoken/node/tlsbootstrap.go. Left out: the ClusterRoleBinding
	// KubeletAPIAdminClusterRoleBindingName ("kubeadm:apiserver-kubelet-client"), a constant only
	// some of the supported patches have (v1.33.13, v1.36.3, v1.37.2, not v1.34.4 or v1.35.4).
	o.add("ClusterRoleBinding", "", kubeadmconstants.NodeKubeletBootstrap)
	o.add("ClusterRole", "", kubeadmconstants.GetNodesClusterRoleName)
	o.add("ClusterRoleBinding", "", kubeadmconstants.GetNodesClusterRoleName)
	o.add("ClusterRoleBinding", "", kubeadmconstants.NodeAutoApproveBootstrapClusterRoleBinding)
	o.add("ClusterRoleBinding", "", kubeadmconstants.NodeAutoApproveCertificateRotationClusterRoleBinding)
	// phases/kubeconfig/kubeconfig.go (EnsureAdminClusterRoleBinding)
	o.add("ClusterRoleBinding", "", kubeadmconstants.ClusterAdminsGroupAndClusterRoleBinding)
	// phases/copycerts/copycerts.go (kubeadm init --upload-certs)
	o.add("Secret", sys, kubeadmconstants.KubeadmCertsSecret)
	o.add("Role", sys, kubeadmconstants.KubeadmCertsClusterRoleName)
	o.add("RoleBinding", sys, kubeadmconstants.KubeadmCertsClusterRoleName)
	// phases/addons/proxy/proxy.go and manifests.go
	o.add("ServiceAccount", sys, kubeadmproxy.KubeProxyServiceAccountName)
	o.add("ClusterRoleBinding", "", kubeadmconstants.KubeProxyClusterRoleBindingName)
	o.add("Role", sys, kubeadmproxy.KubeProxyConfigMapRoleName)
	o.add("RoleBinding", sys, kubeadmproxy.KubeProxyConfigMapRoleName)
	manifest(o, kubeadmproxy.KubeProxyConfigMap19)
	manifest(o, kubeadmproxy.KubeProxyDaemonSet19)
	// phases/addons/dns/manifests.go
	for _, m := range []string{
		kubeadmdns.CoreDNSService,
		kubeadmdns.CoreDNSDeployment,
		kubeadmdns.CoreDNSConfigMap,
		kubeadmdns.CoreDNSClusterRole,
		kubeadmdns.CoreDNSClusterRoleBinding,
		kubeadmdns.CoreDNSServiceAccount,
	} {
		manifest(o, m)
	}
	// Not included: bootstrap token Secrets (bootstrap-token-<random id>) and the control plane's
	// static Pods (mirror pods named <component>-<node name>).
}

func main() {
	out := facts{Gates: map[string]bool{}}
	for _, role := range bootstrappolicy.ClusterRoles() {
		if role.Name == "system:kube-scheduler" {
			out.SchedulerRules = role.Rules
		}
	}
	names := []string{}
	for name := range utilfeature.DefaultMutableFeatureGate.GetAll() {
		names = append(names, string(name))
	}
	sort.Strings(names)
	for _, name := range names {
		out.Gates[name] = utilfeature.DefaultFeatureGate.Enabled(featuregate.Feature(name))
	}
	o := objects{}
	bootstrapPolicy(o)
	leases(o)
	controlPlane(o)
	kubeadm(o)
	out.Objects = o.sorted()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}

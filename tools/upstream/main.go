// Command upstream prints, as JSON, facts of the k8s.io/kubernetes version it is built against:
// the system:kube-scheduler ClusterRole under default feature gates, and every feature gate's
// default. Built per version by scripts/k8s-upstream.sh inside that version's wrapper module, so
// the project's per-version tables are checked against upstream's own code, not a copy of it.
package main

import (
	"encoding/json"
	"os"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/component-base/featuregate"
	_ "k8s.io/kubernetes/pkg/features" // registers the kube gates in the default gate
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

type facts struct {
	SchedulerRules []rbacv1.PolicyRule `json:"schedulerRules"`
	Gates          map[string]bool     `json:"gates"`
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
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}

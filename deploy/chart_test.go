// Package deploy holds the tests of readonce's Helm chart: lint, render each
// values set with the Helm SDK (as `helm template` would), strict-decode
// every manifest into its Kubernetes API type, and check what matters.
package deploy

import (
	"fmt"
	"io"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const chartDir = "helm/readonce"

// valueSets are the configurations every check runs on.
var valueSets = map[string]string{
	"default": ``,
	"external": `
existingSecret: readonce-keys
redis:
  mode: external
  external: {url: "rediss://default:s3cret@redis.example.internal:6380/0"}
  tls: {caSecret: redis-ca}`,
	"sentinel": `
secretKey: 4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e
redis:
  mode: sentinel
  sentinel:
    masterName: mymaster
    addresses: [redis-node-0.redis-headless:26379, redis-node-1.redis-headless:26379, redis-node-2.redis-headless:26379]
    password: s3cret`,
	"cluster": `
secretKey: 4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e
redis:
  mode: cluster
  cluster:
    addresses: [redis-cluster-0.redis-cluster-headless:6379, redis-cluster-1.redis-cluster-headless:6379, redis-cluster-2.redis-cluster-headless:6379]
    password: s3cret`,
	"bundled": `
secretKey: 4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e
redis: {mode: bundled}`,
	"everything": `
secretKey: 4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e
previousSecretKeys: [0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9]
config: {REQUIRE_AUTH: "true", RATE_LIMIT_CREATE_PER_MINUTE: "120", TRUSTED_PROXIES: "10.0.0.0/8",
  AUTH_OIDC_ISSUER: "https://idp.example.com", AUTH_OIDC_AUDIENCE: readonce, AUTH_OIDC_CLIENT_ID: readonce-web}
oidc: {clientSecret: {existingSecret: readonce-oidc}}
ingress:
  enabled: true
  className: nginx
  tls: [{secretName: readonce-tls, hosts: [secrets.example.com]}]
autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 12}
podDisruptionBudget: {enabled: true, minAvailable: 2}
networkPolicy:
  enabled: true
  ingressFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
serviceMonitor: {enabled: true, labels: {release: prometheus}}
redis: {mode: bundled}`,
	"revealOnly": `
secretKey: 4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e
service: {type: LoadBalancer, port: 80}
revealOnly: {enabled: true}
ingress: {enabled: true}
networkPolicy:
  enabled: true
  ingressFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress-nginx}}}]
serviceMonitor: {enabled: true}
redis: {mode: bundled}`,
}

func values(t *testing.T, name string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(valueSets[name]))
	if err != nil {
		t.Fatalf("values %s: %v", name, err)
	}
	return v.AsMap()
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// render is `helm template ro ./helm/readonce -n secrets -f <values>`.
func render(t *testing.T, vals map[string]any) string {
	t.Helper()
	cfg := &action.Configuration{
		Releases:     storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities,
		Log:          func(string, ...any) {},
	}
	install := action.NewInstall(cfg)
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.ReleaseName, install.Namespace = "ro", "secrets"
	rel, err := install.Run(loadChart(t), vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return rel.Manifest
}

// manifests is one rendered release, decoded.
type manifests struct {
	deployments  []*appsv1.Deployment
	statefulsets []*appsv1.StatefulSet
	services     []*corev1.Service
	configmaps   []*corev1.ConfigMap
	secrets      []*corev1.Secret
	policies     []*networkingv1.NetworkPolicy
	monitors     []*monitoringv1.ServiceMonitor
	kinds        map[string]int
}

// decode strict-decodes every document into its API type: an unknown or
// misspelt field is an error, as it would be for the API server.
func decode(t *testing.T, manifest string) manifests {
	t.Helper()
	m := manifests{kinds: map[string]int{}}
	for _, doc := range strings.Split(manifest, "\n---") {
		doc = strings.TrimSpace(doc)
		if doc == "" || strings.Trim(doc, "-\n ") == "" {
			continue
		}
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		var obj any
		switch head.Kind {
		case "Deployment":
			d := &appsv1.Deployment{}
			m.deployments, obj = append(m.deployments, d), d
		case "StatefulSet":
			s := &appsv1.StatefulSet{}
			m.statefulsets, obj = append(m.statefulsets, s), s
		case "Service":
			s := &corev1.Service{}
			m.services, obj = append(m.services, s), s
		case "ConfigMap":
			c := &corev1.ConfigMap{}
			m.configmaps, obj = append(m.configmaps, c), c
		case "Secret":
			s := &corev1.Secret{}
			m.secrets, obj = append(m.secrets, s), s
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "Ingress":
			obj = &networkingv1.Ingress{}
		case "NetworkPolicy":
			p := &networkingv1.NetworkPolicy{}
			m.policies, obj = append(m.policies, p), p
		case "HorizontalPodAutoscaler":
			obj = &autoscalingv2.HorizontalPodAutoscaler{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "ServiceMonitor":
			sm := &monitoringv1.ServiceMonitor{}
			m.monitors, obj = append(m.monitors, sm), sm
		default:
			t.Fatalf("no API type known for %s %s", head.APIVersion, head.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s does not decode strictly: %v\n%s", head.Kind, err, doc)
		}
		m.kinds[head.Kind]++
	}
	return m
}

func TestLint(t *testing.T) {
	for name := range valueSets {
		t.Run(name, func(t *testing.T) {
			linter := lint.All(chartDir, values(t, name), "secrets", true)
			for _, msg := range linter.Messages {
				if msg.Severity >= support.WarningSev {
					t.Errorf("helm lint: %s", msg)
				}
			}
		})
	}
}

func TestRenderedManifests(t *testing.T) {
	for name := range valueSets {
		t.Run(name, func(t *testing.T) {
			m := decode(t, render(t, values(t, name)))
			if len(m.deployments) != 1 {
				t.Fatalf("want one Deployment, got %d", len(m.deployments))
			}
			checkDeployment(t, m.deployments[0], name)
			for _, s := range m.statefulsets {
				checkPodSecurity(t, "StatefulSet "+s.Name, &s.Spec.Template.Spec)
			}
			checkNoSecretInPlainSight(t, m)
			checkRedisWiring(t, m, name)
		})
	}
}

func checkDeployment(t *testing.T, d *appsv1.Deployment, set string) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if d.Spec.Replicas != nil && *d.Spec.Replicas < 2 {
		t.Errorf("replicas %d, want 2 or more", *d.Spec.Replicas)
	}
	checkPodSecurity(t, "Deployment", &spec)
	c := spec.Containers[0]
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe: got %+v, want GET %s on the http port", name, p, path)
		}
	}
	probe("startup", c.StartupProbe, "/health")
	probe("liveness", c.LivenessProbe, "/health")
	probe("readiness", c.ReadinessProbe, "/ready")
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources: want CPU requests and a memory limit, got %+v", c.Resources)
	}
	if len(spec.TopologySpreadConstraints) == 0 {
		t.Error("no topology spread constraints")
	}
	for _, a := range []string{"checksum/config", "checksum/secret"} {
		if d.Spec.Template.Annotations[a] == "" {
			t.Errorf("no %s annotation: pods would not roll on a change", a)
		}
	}
	// The grace period must cover preStop + the server's drain.
	var drain int64
	fmt.Sscanf(configValue(t, set, "SHUTDOWN_TIMEOUT"), "%ds", &drain)
	pre := int64(0)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
		pre = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil || *g <= drain+pre {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than preStop %ds + drain %ds", g, pre, drain)
	}
}

func checkPodSecurity(t *testing.T, what string, spec *corev1.PodSpec) {
	t.Helper()
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s mounts a service-account token", what)
	}
	podSeccomp := spec.SecurityContext != nil && spec.SecurityContext.SeccompProfile != nil &&
		spec.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s/%s: no securityContext", what, c.Name)
			continue
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s/%s: runAsNonRoot is not true", what, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s/%s: root filesystem is writable", what, c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s/%s: privilege escalation allowed", what, c.Name)
		case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s/%s: capabilities %+v, want drop ALL", what, c.Name, sc.Capabilities)
		case !podSeccomp && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault):
			t.Errorf("%s/%s: no RuntimeDefault seccomp profile", what, c.Name)
		}
	}
}

// checkNoSecretInPlainSight: SECRET_KEY (and Redis credentials) come from
// Secrets only: never a ConfigMap, never a literal env value.
func checkNoSecretInPlainSight(t *testing.T, m manifests) {
	t.Helper()
	secretNames := []string{"SECRET_KEY", "SECRET_KEY_PREVIOUS", "REDIS_URL", "REDIS_SENTINEL_PASSWORD", "AUTH_OIDC_CLIENT_SECRET"}
	for _, cm := range m.configmaps {
		for k, v := range cm.Data {
			for _, s := range secretNames {
				if k == s {
					t.Errorf("ConfigMap %s holds %s", cm.Name, k)
				}
			}
			if strings.Contains(v, "s3cret") || strings.Contains(v, "4f3c2b1a09f8") {
				t.Errorf("ConfigMap %s key %s holds a secret value", cm.Name, k)
			}
		}
	}
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				for _, s := range secretNames {
					if e.Name == s && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
						t.Errorf("env %s is not taken from a Secret", e.Name)
					}
				}
			}
		}
	}
}

func checkRedisWiring(t *testing.T, m manifests, set string) {
	t.Helper()
	mode := configValue(t, set, "REDIS_MODE")
	url := secretValue(m, "REDIS_URL")
	switch set {
	case "sentinel":
		if mode != "sentinel" || !strings.HasPrefix(url, "redis://:s3cret@redis-node-0.redis-headless:26379?master_name=mymaster&addr=redis-node-1") {
			t.Errorf("sentinel: REDIS_MODE %q, REDIS_URL %q", mode, url)
		}
	case "cluster":
		if mode != "cluster" || url != "redis://:s3cret@redis-cluster-0.redis-cluster-headless:6379?addr=redis-cluster-1.redis-cluster-headless:6379&addr=redis-cluster-2.redis-cluster-headless:6379" {
			t.Errorf("cluster: REDIS_MODE %q, REDIS_URL %q", mode, url)
		}
	case "external":
		if mode != "single" || url != "rediss://default:s3cret@redis.example.internal:6380/0" {
			t.Errorf("external: REDIS_MODE %q, REDIS_URL %q", mode, url)
		}
		if len(m.statefulsets) != 0 {
			t.Error("external mode also deploys a Redis")
		}
		spec := m.deployments[0].Spec.Template.Spec
		c := spec.Containers[0]
		var caEnv string
		for _, e := range c.Env {
			if e.Name == "REDIS_TLS_CA_FILE" {
				caEnv = e.Value
			}
		}
		if caEnv != "/etc/readonce/redis-ca/ca.crt" || len(c.VolumeMounts) != 1 || !c.VolumeMounts[0].ReadOnly ||
			len(spec.Volumes) != 1 || spec.Volumes[0].Secret == nil || spec.Volumes[0].Secret.SecretName != "redis-ca" {
			t.Errorf("redis.tls.caSecret: env %q, mounts %+v, volumes %+v", caEnv, c.VolumeMounts, spec.Volumes)
		}
	default: // bundled
		if len(m.statefulsets) != 1 {
			t.Fatalf("bundled: want one Redis StatefulSet, got %d", len(m.statefulsets))
		}
		ss := m.statefulsets[0]
		args := strings.Join(ss.Spec.Template.Spec.Containers[0].Command, " ")
		for _, want := range []string{"--maxmemory-policy noeviction", "--appendonly yes"} {
			if !strings.Contains(args, want) {
				t.Errorf("bundled Redis runs %q, want %s", args, want)
			}
		}
		if len(ss.Spec.VolumeClaimTemplates) != 1 {
			t.Error("bundled Redis has no PVC")
		}
		if ss.Annotations["readonce.io/not-highly-available"] != "true" {
			t.Error("bundled Redis is not marked as not highly available")
		}
	}
	if set == "everything" {
		checkNetworkPolicy(t, m)
	}
}

func checkNetworkPolicy(t *testing.T, m manifests) {
	t.Helper()
	for _, p := range m.policies {
		if p.Spec.PodSelector.MatchLabels["app.kubernetes.io/component"] != "api" {
			continue
		}
		for _, in := range p.Spec.Ingress {
			for _, port := range in.Ports {
				if port.Port == nil || port.Port.String() != "http" {
					t.Errorf("NetworkPolicy lets in port %v, want only http", port.Port)
				}
			}
		}
		var dns, redis bool
		for _, out := range p.Spec.Egress {
			for _, port := range out.Ports {
				dns = dns || port.Port.IntValue() == 53
				redis = redis || port.Port.IntValue() == 6379
			}
		}
		if !dns || !redis {
			t.Errorf("NetworkPolicy egress: DNS %v, Redis %v; want both", dns, redis)
		}
		return
	}
	t.Error("no NetworkPolicy for the API pods")
}

func configValue(t *testing.T, set, key string) string {
	t.Helper()
	for _, cm := range decode(t, render(t, values(t, set))).configmaps {
		if v, ok := cm.Data[key]; ok {
			return v
		}
	}
	return ""
}

func secretValue(m manifests, key string) string {
	for _, s := range m.secrets {
		if v, ok := s.Data[key]; ok {
			return string(v)
		}
	}
	return ""
}

// The checksum annotation must change when the secret or the config does,
// and must not when nothing does.
// revealOnly: the public Service (and the ingress behind it) reach only
// the reveal face; the whole API is on a second port behind an internal
// ClusterIP Service, which the NetworkPolicy opens to this namespace only
// and the ServiceMonitor scrapes. The default renders none of it.
func TestRevealOnlyChart(t *testing.T) {
	m := decode(t, render(t, values(t, "revealOnly")))
	if got := configValue(t, "revealOnly", "PUBLIC_LISTEN_REVEAL_ONLY"); got != "true" {
		t.Errorf("PUBLIC_LISTEN_REVEAL_ONLY %q", got)
	}
	if got := configValue(t, "revealOnly", "CREATE_LISTEN_ADDR"); got != ":8001" {
		t.Errorf("CREATE_LISTEN_ADDR %q", got)
	}
	ports := map[string]int32{}
	for _, p := range m.deployments[0].Spec.Template.Spec.Containers[0].Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] != 8000 || ports["internal"] != 8001 {
		t.Errorf("container ports %v, want http 8000 and internal 8001", ports)
	}
	var public, internal *corev1.Service
	for _, s := range m.services {
		switch s.Name {
		case "ro-readonce":
			public = s
		case "ro-readonce-internal":
			internal = s
		}
	}
	if public == nil || internal == nil {
		t.Fatalf("services %v, want ro-readonce and ro-readonce-internal", m.kinds)
	}
	if len(public.Spec.Ports) != 1 || public.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("the public Service reaches %+v, want the http port only", public.Spec.Ports)
	}
	if internal.Spec.Type != corev1.ServiceTypeClusterIP || len(internal.Spec.Ports) != 1 ||
		internal.Spec.Ports[0].Port != 8001 || internal.Spec.Ports[0].TargetPort.String() != "internal" {
		t.Errorf("the internal Service: %s %+v, want ClusterIP 8001 → internal", internal.Spec.Type, internal.Spec.Ports)
	}
	var rule *networkingv1.NetworkPolicyIngressRule
	for _, p := range m.policies {
		for i, r := range p.Spec.Ingress {
			if len(r.Ports) == 1 && r.Ports[0].Port.String() == "internal" {
				rule = &p.Spec.Ingress[i]
			}
		}
	}
	if rule == nil || len(rule.From) != 1 || rule.From[0].PodSelector == nil || len(rule.From[0].PodSelector.MatchLabels) != 0 || rule.From[0].NamespaceSelector != nil {
		t.Errorf("NetworkPolicy rule for the internal port: %+v, want from this namespace's pods only", rule)
	}
	if len(m.monitors) != 1 || m.monitors[0].Spec.Endpoints[0].Port != "internal" {
		t.Errorf("the ServiceMonitor scrapes %+v, want the internal port", m.monitors)
	}

	d := decode(t, render(t, values(t, "default")))
	for _, s := range d.services {
		if s.Name == "ro-readonce-internal" {
			t.Error("the default renders an internal Service")
		}
	}
	if n := len(d.deployments[0].Spec.Template.Spec.Containers[0].Ports); n != 1 {
		t.Errorf("the default's container has %d ports, want 1", n)
	}
	for _, cm := range d.configmaps {
		if _, ok := cm.Data["PUBLIC_LISTEN_REVEAL_ONLY"]; ok {
			t.Error("the default sets PUBLIC_LISTEN_REVEAL_ONLY")
		}
	}
}

func TestChecksumRollsPods(t *testing.T) {
	get := func(yamlValues string) map[string]string {
		v, err := chartutil.ReadValues([]byte(yamlValues))
		if err != nil {
			t.Fatal(err)
		}
		return decode(t, render(t, v.AsMap())).deployments[0].Spec.Template.Annotations
	}
	base := "secretKey: 4f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e\n"
	a, b := get(base), get(base)
	if a["checksum/secret"] != b["checksum/secret"] || a["checksum/config"] != b["checksum/config"] {
		t.Fatal("checksums differ between two identical renders")
	}
	if c := get("secretKey: 5f3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e\n"); c["checksum/secret"] == a["checksum/secret"] {
		t.Error("a new SECRET_KEY does not change checksum/secret")
	}
	if c := get(base + "config: {LOG_LEVEL: debug}\n"); c["checksum/config"] == a["checksum/config"] {
		t.Error("a config change does not change checksum/config")
	}
}

func TestRejects(t *testing.T) {
	for name, vals := range map[string]string{
		"secret in config":             "config: {SECRET_KEY: oops}",
		"OIDC client secret in config": "config: {AUTH_OIDC_CLIENT_SECRET: oops}",
		"short secretKey":              "secretKey: short",
		"one replica":                  "replicaCount: 1",
		"external without url":         "redis: {mode: external}",
		"unknown redis mode":           "redis: {mode: memcached}",
	} {
		t.Run(name, func(t *testing.T) {
			v, err := chartutil.ReadValues([]byte(vals))
			if err != nil {
				t.Fatal(err)
			}
			cfg := &action.Configuration{Releases: storage.Init(driver.NewMemory()), KubeClient: &kubefake.PrintingKubeClient{Out: io.Discard},
				Capabilities: chartutil.DefaultCapabilities, Log: func(string, ...any) {}}
			install := action.NewInstall(cfg)
			install.DryRun, install.ClientOnly, install.ReleaseName, install.Namespace = true, true, "ro", "secrets"
			if _, err := install.Run(loadChart(t), v.AsMap()); err == nil {
				t.Errorf("rendered %q without complaint", vals)
			}
		})
	}
}

// A confidential client's secret reaches the pod from its Secret only.
func TestOIDCClientSecretFromASecret(t *testing.T) {
	m := decode(t, render(t, values(t, "everything")))
	for _, e := range m.deployments[0].Spec.Template.Spec.Containers[0].Env {
		if e.Name == "AUTH_OIDC_CLIENT_SECRET" {
			if ref := e.ValueFrom.SecretKeyRef; ref == nil || ref.Name != "readonce-oidc" || ref.Key != "client-secret" {
				t.Errorf("AUTH_OIDC_CLIENT_SECRET comes from %+v", e.ValueFrom)
			}
			return
		}
	}
	t.Error("no AUTH_OIDC_CLIENT_SECRET in the pod")
}

// helm_render renders a Helm chart's templates the way `helm template` does
// (Go text/template, Sprig functions, Helm's include/tpl/required/toYaml/
// lookup, values merged from values.yaml, -f files and --set), without Helm,
// and checks the manifests structurally: every document has apiVersion,
// kind and a DNS-1123 name; Services, HPA, PDB, ServiceMonitor and
// NetworkPolicies point at objects and ports the release renders; every
// volume, ConfigMap and Secret a pod uses exists; gRPC probes hit a
// container port.
//
//	helm_render -chart DIR [-f values.yaml]... [-set a.b=c]... [-name R] [-namespace N]
//
// Prints the manifests on stdout; problems on stderr, exit status 1.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// jsonish converts YAML-decoded data to what Helm's templates see: maps with
// string keys and every number a float64 (Helm decodes values through JSON).
func jsonish(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out interface{}
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

func readYAML(path string) map[string]interface{} {
	b, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	var v map[string]interface{}
	if err := yaml.Unmarshal(b, &v); err != nil {
		fail("%s: %v", path, err)
	}
	if v == nil {
		return map[string]interface{}{}
	}
	return jsonish(v).(map[string]interface{})
}

// merge copies src over dst, recursing into maps (Helm's value coalescing).
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		if sm, ok := v.(map[string]interface{}); ok {
			if dm, ok := dst[k].(map[string]interface{}); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// setValue applies one --set a.b.c=value (booleans, numbers, null or string).
func setValue(values map[string]interface{}, assignment string) {
	eq := strings.IndexByte(assignment, '=')
	if eq < 0 {
		fail("--set %q: want key=value", assignment)
	}
	path := strings.Split(assignment[:eq], ".")
	raw := assignment[eq+1:]
	var value interface{} = raw
	switch {
	case raw == "true" || raw == "false":
		value = raw == "true"
	case raw == "null":
		value = nil
	default:
		if f, err := strconv.ParseFloat(raw, 64); err == nil {
			value = f
		}
	}
	m := values
	for _, k := range path[:len(path)-1] {
		next, ok := m[k].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			m[k] = next
		}
		m = next
	}
	m[path[len(path)-1]] = value
}

// toYAML is Helm's toYaml: two-space indentation, no final newline.
func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "helm_render: "+format+"\n", args...)
	os.Exit(1)
}

func render(chartDir string, values map[string]interface{}, release, namespace string) []string {
	chart := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	chartName, _ := chart["name"].(string)
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Chart": map[string]interface{}{
			"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"],
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.29.0", "Major": "1", "Minor": "29"},
		},
	}
	root := template.New("chart").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYAML
	funcs["toJson"] = func(v interface{}) string { b, _ := json.Marshal(v); return string(b) }
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(string, string, string, string) map[string]interface{} {
		return map[string]interface{}{} // As `helm template`: no cluster.
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	root.Funcs(funcs)

	files, _ := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	sort.Strings(files)
	var manifests []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fail("%v", err)
		}
		name := chartName + "/templates/" + filepath.Base(f)
		if _, err := root.New(name).Parse(string(b)); err != nil {
			fail("%v", err)
		}
		if strings.HasSuffix(f, ".yaml") {
			manifests = append(manifests, name)
		}
	}
	var docs []string
	for _, name := range manifests {
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{
			"Name": name, "BasePath": chartName + "/templates",
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			fail("%v", err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(text, -1) {
			if strings.TrimSpace(stripComments(doc)) != "" {
				docs = append(docs, "# Source: "+name+"\n"+strings.Trim(doc, "\n"))
			}
		}
	}
	return docs
}

func stripComments(doc string) string {
	var out []string
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// ---------------------------------------------------------------------------
// Structural checks.

type object = map[string]interface{}

func get(o interface{}, path ...string) interface{} {
	for _, p := range path {
		m, ok := o.(map[string]interface{})
		if !ok {
			return nil
		}
		o = m[p]
	}
	return o
}

func str(o interface{}, path ...string) string { s, _ := get(o, path...).(string); return s }

func list(o interface{}, path ...string) []interface{} {
	l, _ := get(o, path...).([]interface{})
	return l
}

func labels(o interface{}, path ...string) map[string]string {
	out := map[string]string{}
	if m, ok := get(o, path...).(map[string]interface{}); ok {
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func subset(sel, lbl map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if lbl[k] != v {
			return false
		}
	}
	return true
}

var dns1123 = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

func check(docs []string, external map[string]bool) []string {
	var problems []string
	bad := func(format string, args ...interface{}) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var objs []object
	byKind := map[string]map[string]object{}
	for _, d := range docs {
		var o object
		if err := yaml.Unmarshal([]byte(d), &o); err != nil {
			bad("not YAML: %v\n%s", err, d)
			continue
		}
		o = jsonish(o).(map[string]interface{})
		kind, name := str(o, "kind"), str(o, "metadata", "name")
		if str(o, "apiVersion") == "" || kind == "" || name == "" {
			bad("document without apiVersion, kind or metadata.name:\n%s", d)
			continue
		}
		if len(name) > 253 || !dns1123.MatchString(name) || (kind == "Service" && len(name) > 63) {
			bad("%s %q: not a valid object name", kind, name)
		}
		for k, v := range labels(o, "metadata", "labels") {
			if len(v) > 63 {
				bad("%s %q: label %s longer than 63 characters", kind, name, k)
			}
		}
		if byKind[kind] == nil {
			byKind[kind] = map[string]object{}
		}
		if _, dup := byKind[kind][name]; dup {
			bad("%s %q rendered twice", kind, name)
		}
		byKind[kind][name] = o
		objs = append(objs, o)
	}
	exists := func(kind, name string) bool { _, ok := byKind[kind][name]; return ok || external[name] }

	podLabels := map[string]map[string]string{} // Deployment name -> pod labels
	podPorts := map[string]map[string]bool{}    // Deployment name -> port names and numbers
	for name, d := range byKind["Deployment"] {
		tmpl := get(d, "spec", "template")
		podLabels[name] = labels(tmpl, "metadata", "labels")
		if !subset(labels(d, "spec", "selector", "matchLabels"), podLabels[name]) {
			bad("Deployment %q: selector does not match its pod labels", name)
		}
		volumes := map[string]bool{}
		for _, v := range list(tmpl, "spec", "volumes") {
			volumes[str(v, "name")] = true
			if cm := str(v, "configMap", "name"); cm != "" && !exists("ConfigMap", cm) {
				bad("Deployment %q: volume uses missing ConfigMap %q", name, cm)
			}
			if s := str(v, "secret", "secretName"); s != "" && !exists("Secret", s) {
				bad("Deployment %q: volume uses missing Secret %q", name, s)
			}
			if c := str(v, "persistentVolumeClaim", "claimName"); c != "" && !exists("PersistentVolumeClaim", c) {
				bad("Deployment %q: volume uses missing PersistentVolumeClaim %q", name, c)
			}
		}
		ports := map[string]bool{}
		containers := list(tmpl, "spec", "containers")
		if len(containers) == 0 {
			bad("Deployment %q: no containers", name)
		}
		for _, c := range containers {
			if str(c, "image") == "" || strings.HasSuffix(str(c, "image"), ":") {
				bad("Deployment %q: container %q has no image tag", name, str(c, "name"))
			}
			for _, p := range list(c, "ports") {
				ports[str(p, "name")] = true
				ports[fmt.Sprint(get(p, "containerPort"))] = true
			}
			for _, m := range list(c, "volumeMounts") {
				if !volumes[str(m, "name")] {
					bad("Deployment %q: mount of undefined volume %q", name, str(m, "name"))
				}
			}
			for _, e := range list(c, "env") {
				if s := str(e, "valueFrom", "secretKeyRef", "name"); s != "" && !exists("Secret", s) {
					bad("Deployment %q: env %s uses missing Secret %q", name, str(e, "name"), s)
				}
			}
			for _, probe := range []string{"startupProbe", "readinessProbe", "livenessProbe"} {
				if port := get(c, probe, "grpc", "port"); port != nil && !ports[fmt.Sprint(port)] {
					bad("Deployment %q: %s on port %v, which the container does not open", name, probe, port)
				}
			}
		}
		podPorts[name] = ports
	}
	selects := func(sel map[string]string) string {
		for name, l := range podLabels {
			if subset(sel, l) {
				return name
			}
		}
		return ""
	}
	for name, s := range byKind["Service"] {
		target := selects(labels(s, "spec", "selector"))
		if target == "" {
			bad("Service %q selects no rendered pods", name)
			continue
		}
		for _, p := range list(s, "spec", "ports") {
			if tp := fmt.Sprint(get(p, "targetPort")); !podPorts[target][tp] {
				bad("Service %q: targetPort %s is not a port of Deployment %q", name, tp, target)
			}
		}
	}
	for name, h := range byKind["HorizontalPodAutoscaler"] {
		if ref := str(h, "spec", "scaleTargetRef", "name"); !exists("Deployment", ref) {
			bad("HorizontalPodAutoscaler %q scales missing Deployment %q", name, ref)
		}
	}
	for name, p := range byKind["PodDisruptionBudget"] {
		if selects(labels(p, "spec", "selector", "matchLabels")) == "" {
			bad("PodDisruptionBudget %q selects no rendered pods", name)
		}
	}
	for name, np := range byKind["NetworkPolicy"] {
		target := selects(labels(np, "spec", "podSelector", "matchLabels"))
		if target == "" {
			bad("NetworkPolicy %q selects no rendered pods", name)
			continue
		}
		// Kubernetes ignores ingress rules when policyTypes, if given, lacks Ingress.
		types := list(np, "spec", "policyTypes")
		ingress := len(types) == 0
		for _, t := range types {
			ingress = ingress || t == "Ingress"
		}
		if !ingress && len(list(np, "spec", "ingress")) > 0 {
			bad("NetworkPolicy %q: ingress rules without Ingress in policyTypes", name)
		}
		for _, rule := range list(np, "spec", "ingress") {
			for _, p := range list(rule, "ports") {
				if port := fmt.Sprint(get(p, "port")); !podPorts[target][port] {
					bad("NetworkPolicy %q: port %s is not a port of Deployment %q", name, port, target)
				}
			}
			// A peer naming a release instance means this release's pods.
			for _, peer := range list(rule, "from") {
				sel := labels(peer, "podSelector", "matchLabels")
				if _, ours := sel["app.kubernetes.io/instance"]; ours && get(peer, "namespaceSelector") == nil && selects(sel) == "" {
					bad("NetworkPolicy %q admits pods of this release that it does not render", name)
				}
			}
		}
	}
	for name, m := range byKind["ServiceMonitor"] {
		sel := labels(m, "spec", "selector", "matchLabels")
		found := false
		for _, s := range byKind["Service"] {
			if subset(sel, labels(s, "metadata", "labels")) {
				for _, e := range list(m, "spec", "endpoints") {
					for _, p := range list(s, "spec", "ports") {
						found = found || str(p, "name") == str(e, "port")
					}
				}
			}
		}
		if !found {
			bad("ServiceMonitor %q matches no Service port", name)
		}
	}
	if len(objs) == 0 {
		bad("nothing rendered")
	}
	return problems
}

func main() {
	chartDir := flag.String("chart", "", "chart folder")
	release := flag.String("name", "release", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	var valueFiles, sets, externals listFlag
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&sets, "set", "key=value (repeatable)")
	flag.Var(&externals, "external", "name of an object that exists outside the release (repeatable)")
	flag.Parse()
	if *chartDir == "" {
		fail("usage: helm_render -chart DIR [-f values.yaml] [-set k=v]")
	}
	values := readYAML(filepath.Join(*chartDir, "values.yaml"))
	for _, f := range valueFiles {
		merge(values, readYAML(f))
	}
	for _, s := range sets {
		setValue(values, s)
	}
	docs := render(*chartDir, values, *release, *namespace)
	fmt.Println(strings.Join(docs, "\n---\n"))
	external := map[string]bool{}
	for _, e := range externals {
		external[e] = true
	}
	if problems := check(docs, external); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "helm_render: "+p)
		}
		os.Exit(1)
	}
}

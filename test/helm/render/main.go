// Renders a Helm chart without helm: Go text/template + Sprig + the Helm built-ins the archestra chart uses
// (include, tpl, toYaml, fromYaml, toJson, required, fail, lookup returning nothing), values merged like
// `helm template -f ...`, and dependencies replaced by local stand-in charts (--subchart name=DIR).
//
// Output (stdout): JSON {"objects":[{"source":..., "object":{...}}], "notes": "...", "values": {merged values,
// for checking against values.schema.json as helm does}}; a template error (fail,
// required, syntax) exits 1 with the message on stderr, as `helm template` does.
//
// Build (Debian's Go in GOPATH mode): GOPATH=/usr/share/gocode GO111MODULE=off go build -o render .
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
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type chart struct {
	dir      string
	meta     map[string]interface{}
	values   map[string]interface{}
	children []*chart
	enabled  bool
}

func readYAMLMap(path string) (map[string]interface{}, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return map[string]interface{}{}, nil
		}
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out, nil
}

// merge returns base overlaid with over, like Helm's value coalescing: maps merge recursively, anything else is
// replaced, and an explicit null in `over` deletes the key.
func merge(base, over map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range base {
		out[k] = deepCopy(v)
	}
	for k, v := range over {
		if v == nil {
			delete(out, k)
			continue
		}
		if om, ok := v.(map[string]interface{}); ok {
			if bm, ok := out[k].(map[string]interface{}); ok {
				out[k] = merge(bm, om)
				continue
			}
		}
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return merge(t, nil)
	case []interface{}:
		c := make([]interface{}, len(t))
		for i, e := range t {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

func lookupPath(values map[string]interface{}, path string) (interface{}, bool) {
	var cur interface{} = values
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// chartObject is what templates see as .Chart (Helm capitalises the Chart.yaml fields).
func chartObject(meta map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range meta {
		out[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return out
}

func main() {
	var valueFiles, subcharts multiFlag
	chartDir := flag.String("chart", "", "chart directory")
	release := flag.String("release", "archestra-platform", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	flag.Var(&valueFiles, "values", "values file (repeatable; later wins)")
	flag.Var(&subcharts, "subchart", "name=DIR: a local chart standing in for a dependency (repeatable)")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "render: --chart is required")
		os.Exit(2)
	}
	out, err := render(*chartDir, *release, *namespace, valueFiles, subcharts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
}

func loadChart(dir string) (*chart, error) {
	meta, err := readYAMLMap(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	if _, ok := meta["name"]; !ok {
		return nil, fmt.Errorf("%s: Chart.yaml has no name", dir)
	}
	values, err := readYAMLMap(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	return &chart{dir: dir, meta: meta, values: values, enabled: true}, nil
}

func render(chartDir, release, namespace string, valueFiles, subcharts []string) ([]byte, error) {
	root, err := loadChart(chartDir)
	if err != nil {
		return nil, err
	}
	values := root.values
	for _, f := range valueFiles {
		over, err := readYAMLMap(f)
		if err != nil {
			return nil, err
		}
		values = merge(values, over)
	}
	stubs := map[string]string{}
	for _, s := range subcharts {
		parts := strings.SplitN(s, "=", 2)
		if len(parts) != 2 {
			return nil, fmt.Errorf("--subchart %q: expected name=DIR", s)
		}
		stubs[parts[0]] = parts[1]
	}
	// Dependencies: each needs a stand-in; its values are its own defaults under the parent's section, and
	// `global` flows down.
	deps, _ := root.meta["dependencies"].([]interface{})
	for _, d := range deps {
		dep, _ := d.(map[string]interface{})
		name, _ := dep["name"].(string)
		dir, ok := stubs[name]
		if !ok {
			return nil, fmt.Errorf("dependency %q has no stand-in chart (--subchart %s=DIR)", name, name)
		}
		child, err := loadChart(dir)
		if err != nil {
			return nil, err
		}
		if cond, ok := dep["condition"].(string); ok && cond != "" {
			if v, found := lookupPath(values, cond); found {
				b, isBool := v.(bool)
				child.enabled = !isBool || b
			}
		}
		section, _ := values[name].(map[string]interface{})
		child.values = merge(child.values, section)
		if g, ok := values["global"].(map[string]interface{}); ok {
			cg, _ := child.values["global"].(map[string]interface{})
			child.values["global"] = merge(cg, g)
		}
		values[name] = child.values
		root.children = append(root.children, child)
	}
	root.values = values

	t := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	includeDepth := 0
	funcs["include"] = func(name string, data interface{}) (string, error) {
		includeDepth++
		defer func() { includeDepth-- }()
		if includeDepth > 100 {
			return "", fmt.Errorf("include %q: recursion too deep", name)
		}
		var buf bytes.Buffer
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		parsed, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = parsed.Execute(&buf, data)
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["toJson"] = func(v interface{}) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, fmt.Errorf("%s", msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return v, nil
	}
	funcs["fail"] = func(msg string) (string, error) { return "", fmt.Errorf("%s", msg) }
	// No cluster here: lookup finds nothing, as in `helm template` and on a first install.
	funcs["lookup"] = func(apiVersion, kind, ns, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	t.Funcs(funcs)

	type file struct {
		name string
		c    *chart
	}
	var files []file
	var addTemplates func(c *chart, prefix string) error
	addTemplates = func(c *chart, prefix string) error {
		entries, err := os.ReadDir(filepath.Join(c.dir, "templates"))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			raw, err := os.ReadFile(filepath.Join(c.dir, "templates", e.Name()))
			if err != nil {
				return err
			}
			name := prefix + "/templates/" + e.Name()
			if _, err := t.New(name).Parse(string(raw)); err != nil {
				return err
			}
			files = append(files, file{name, c})
		}
		return nil
	}
	rootName := root.meta["name"].(string)
	if err := addTemplates(root, rootName); err != nil {
		return nil, err
	}
	for _, child := range root.children {
		if !child.enabled {
			continue
		}
		if err := addTemplates(child, rootName+"/charts/"+child.meta["name"].(string)); err != nil {
			return nil, err
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })

	type object struct {
		Source string      `json:"source"`
		Object interface{} `json:"object"`
	}
	result := struct {
		Objects []object               `json:"objects"`
		Notes   string                 `json:"notes"`
		Values  map[string]interface{} `json:"values"`
	}{Objects: []object{}, Values: root.values}
	separator := regexp.MustCompile(`(?m)^---[ \t]*$`)
	for _, f := range files {
		base := filepath.Base(f.name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{
			"Values": f.c.values,
			"Release": map[string]interface{}{
				"Name": release, "Namespace": namespace, "Service": "Helm",
				"IsInstall": true, "IsUpgrade": false, "Revision": 1,
			},
			"Chart":        chartObject(f.c.meta),
			"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"}},
			"Template":     map[string]interface{}{"Name": f.name, "BasePath": filepath.Dir(f.name)},
		}
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, f.name, data); err != nil {
			return nil, err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			if f.c == root {
				result.Notes = text
			}
			continue
		}
		for _, doc := range separator.Split(text, -1) {
			var obj interface{}
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, fmt.Errorf("%s: rendered YAML does not parse: %v\n%s", f.name, err, doc)
			}
			if obj == nil {
				continue
			}
			result.Objects = append(result.Objects, object{Source: f.name, Object: obj})
		}
	}
	return json.MarshalIndent(result, "", "  ")
}

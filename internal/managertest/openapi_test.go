package managertest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cajonfarm/cajon/internal/flamencotrace"
	"gopkg.in/yaml.v3"
)

// openAPISchema is the part of an OpenAPI schema object these tests read.
type openAPISchema struct {
	Type       string                    `yaml:"type" json:"type,omitempty"`
	Ref        string                    `yaml:"$ref" json:"$ref,omitempty"`
	Properties map[string]*openAPISchema `yaml:"properties" json:"properties,omitempty"`
	Required   []string                  `yaml:"required" json:"required,omitempty"`
	Items      *openAPISchema            `yaml:"items" json:"items,omitempty"`
	Enum       []string                  `yaml:"enum" json:"enum,omitempty"`
}

// The worker API's schemas as facts (names, JSON types, required fields,
// enums) taken from the Manager's OpenAPI description: the schemas below and
// those they refer to. The description itself is Flamenco's (GPL) and stays
// out of this repository; TestSchemaExtractIsCurrent checks the extract
// against it wherever it is at hand, and -update-schemas writes it anew.
const schemaExtract = "testdata/worker-api-schemas.json"

var extractRoots = []string{
	"RegisteredWorker", "AssignedTask", "MayKeepRunning", "WorkerStateChange", "Error", "SecurityError",
	"FlamencoVersion", "WorkerRegistration", "WorkerSignOn", "WorkerStateChanged", "TaskUpdate",
	"TaskStatus", "WorkerStatus",
}

var updateSchemas = flag.Bool("update-schemas", false, "rewrite "+schemaExtract+" from the OpenAPI description (FLAMENCO_OPENAPI)")

// openAPIDescription finds flamenco-openapi.yaml: FLAMENCO_OPENAPI, or the
// project's shared reference folder beside the checkout.
func openAPIDescription() string {
	if p := os.Getenv("FLAMENCO_OPENAPI"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "..", "shared", "reference", "flamenco-openapi.yaml")
}

// loadSchemas reads the extract of the Manager's worker-API schemas.
func loadSchemas(t *testing.T) map[string]*openAPISchema {
	t.Helper()
	data, err := os.ReadFile(schemaExtract)
	if err != nil {
		t.Fatal(err)
	}
	var schemas map[string]*openAPISchema
	if err := json.Unmarshal(data, &schemas); err != nil {
		t.Fatalf("%s: %v", schemaExtract, err)
	}
	return schemas
}

// extractSchemas takes the extract's schemas out of an OpenAPI description.
func extractSchemas(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]*openAPISchema `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]*openAPISchema{}
	var visit func(s *openAPISchema)
	take := func(name string) {
		if _, done := out[name]; done {
			return
		}
		s := doc.Components.Schemas[name]
		if s == nil {
			t.Fatalf("%s: no schema %s", path, name)
		}
		out[name] = s
		visit(s)
	}
	visit = func(s *openAPISchema) {
		if s == nil {
			return
		}
		if s.Ref != "" {
			take(strings.TrimPrefix(s.Ref, "#/components/schemas/"))
		}
		for _, p := range s.Properties {
			visit(p)
		}
		visit(s.Items)
	}
	for _, name := range extractRoots {
		take(name)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestSchemaExtractIsCurrent holds the committed extract to the Manager's
// OpenAPI description, where the description is at hand.
func TestSchemaExtractIsCurrent(t *testing.T) {
	path := openAPIDescription()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("no OpenAPI description at %s (set FLAMENCO_OPENAPI): the committed extract %s is used as it is", path, schemaExtract)
	}
	want := extractSchemas(t, path)
	if *updateSchemas {
		if err := os.WriteFile(schemaExtract, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaExtract)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the schemas of %s: run go test ./internal/managertest -run TestSchemaExtractIsCurrent -update-schemas", schemaExtract, path)
	}
}

// resolve follows a $ref to its schema.
func resolve(t *testing.T, schemas map[string]*openAPISchema, s *openAPISchema) *openAPISchema {
	t.Helper()
	for s != nil && s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, "#/components/schemas/")
		if s = schemas[name]; s == nil {
			t.Fatalf("unresolvable $ref %q", name)
		}
	}
	return s
}

// goJSONType is the JSON schema type encoding/json gives a Go type.
func goJSONType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.Kind().String()
}

// checkStruct holds a Go answer type to a schema: every field is a property
// of the same JSON type, and every required property is a field, except
// those the schema requires without defining them (returned: the real
// Manager cannot send what its own code does not have).
func checkStruct(t *testing.T, schemas map[string]*openAPISchema, name string, typ reflect.Type) (undefinedRequired []string) {
	t.Helper()
	s := resolve(t, schemas, schemas[name])
	if s == nil {
		t.Fatalf("no schema %s", name)
	}
	fields := map[string]bool{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[jsonName] = true
		prop := resolve(t, schemas, s.Properties[jsonName])
		if prop == nil {
			t.Errorf("%s: field %q (%s.%s) is not in the schema", name, jsonName, typ.Name(), f.Name)
			continue
		}
		if got := goJSONType(f.Type); got != prop.Type {
			t.Errorf("%s.%s: JSON %s, the schema says %s", name, jsonName, got, prop.Type)
		}
		if prop.Type == "array" {
			items := resolve(t, schemas, prop.Items)
			elem := f.Type.Elem()
			if got := goJSONType(elem); got != items.Type {
				t.Errorf("%s.%s[]: JSON %s, the schema says %s", name, jsonName, got, items.Type)
			}
			if elem.Kind() == reflect.Struct {
				checkStruct(t, schemas, strings.TrimPrefix(prop.Items.Ref, "#/components/schemas/"), elem)
			}
		}
	}
	for _, req := range s.Required {
		switch {
		case fields[req]:
		case s.Properties[req] == nil:
			undefinedRequired = append(undefinedRequired, req)
		default:
			t.Errorf("%s: required field %q is missing from %s", name, req, typ.Name())
		}
	}
	return undefinedRequired
}

// TestAnswerTypesMatchTheSchema holds the fake's hand-written answer types
// to the Manager's OpenAPI schemas, and the recorded answers (the Manager's
// actual behaviour) to the same schemas.
func TestAnswerTypesMatchTheSchema(t *testing.T) {
	schemas := loadSchemas(t)
	answers := []struct {
		schema string
		typ    reflect.Type
		// recorded picks the recorded answers of this schema.
		recorded func(e flamencotrace.Exchange) bool
	}{
		{"RegisteredWorker", reflect.TypeFor[registeredWorkerBody](), func(e flamencotrace.Exchange) bool {
			return e.Path == "/api/v3/worker/register-worker" && e.Status == 200
		}},
		{"AssignedTask", reflect.TypeFor[assignedTaskBody](), func(e flamencotrace.Exchange) bool {
			return e.Path == "/api/v3/worker/task" && e.Status == 200
		}},
		{"MayKeepRunning", reflect.TypeFor[mayKeepRunningBody](), func(e flamencotrace.Exchange) bool {
			return strings.HasSuffix(e.Path, "/may-i-run") && e.Status == 200
		}},
		{"WorkerStateChange", reflect.TypeFor[stateChangeBody](), func(e flamencotrace.Exchange) bool {
			signOnOrState := e.Path == "/api/v3/worker/sign-on" || e.Path == "/api/v3/worker/state"
			return (signOnOrState && e.Status == 200) || e.Status == 423
		}},
		{"Error", reflect.TypeFor[errorBody](), func(e flamencotrace.Exchange) bool { return e.Status == 404 }},
		{"SecurityError", reflect.TypeFor[messageBody](), func(e flamencotrace.Exchange) bool { return e.Status == 403 }},
		{"FlamencoVersion", reflect.TypeFor[versionBody](), func(flamencotrace.Exchange) bool { return false }},
	}
	traces, err := flamencotrace.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		t.Run(a.schema, func(t *testing.T) {
			undefined := checkStruct(t, schemas, a.schema, a.typ)
			s := resolve(t, schemas, schemas[a.schema])
			n := 0
			for _, tr := range traces {
				for _, e := range tr.Exchanges {
					if !a.recorded(e) {
						continue
					}
					n++
					var fields map[string]json.RawMessage
					if err := json.Unmarshal(e.Answer, &fields); err != nil {
						t.Fatalf("%s %s: %v", tr.Name, e.Path, err)
					}
					for name := range fields {
						if s.Properties[name] == nil {
							t.Errorf("%s %s: the real Manager sent %q, which the schema does not define", tr.Name, e.Path, name)
						}
					}
					// The schema requires fields it never defines
					// (RegisteredWorker's current_task); the Manager leaves
					// them out, so the fake must too and the client must not
					// need them.
					for _, name := range undefined {
						if _, sent := fields[name]; sent {
							t.Errorf("%s %s: the real Manager sent %q: add it to %s", tr.Name, e.Path, name, a.typ.Name())
						}
					}
				}
			}
			if len(undefined) > 0 && n == 0 {
				t.Errorf("the schema requires %q without defining it, and no recording shows whether the Manager sends it", undefined)
			}
		})
	}
	// The one erratum this schema version has, seen by the test above.
	if got := checkStruct(t, schemas, "RegisteredWorker", reflect.TypeFor[registeredWorkerBody]()); !slices.Equal(got, []string{"current_task"}) {
		t.Errorf("RegisteredWorker: required but undefined %q, want [current_task]", got)
	}
}

// TestRequestFieldsMatchTheSchema holds the fake's request checks to the
// schemas of the bodies a worker sends: the same fields, JSON types and
// required ones; and its status enums to the schema's.
func TestRequestFieldsMatchTheSchema(t *testing.T) {
	schemas := loadSchemas(t)
	kinds := map[fieldKind]string{kindString: "string", kindBool: "boolean", kindInt: "integer", kindStrings: "array", kindTaskStatus: "string", kindWorkerStatus: "string"}
	for op, name := range map[string]string{OpRegister: "WorkerRegistration", OpSignOn: "WorkerSignOn", OpStateChanged: "WorkerStateChanged", OpTaskUpdate: "TaskUpdate"} {
		s := resolve(t, schemas, schemas[name])
		var required []string
		for _, f := range requestFields(op) {
			prop := resolve(t, schemas, s.Properties[f.name])
			if prop == nil {
				t.Errorf("%s: field %q is not in %s", op, f.name, name)
				continue
			}
			if kinds[f.kind] != prop.Type {
				t.Errorf("%s.%s: checked as %s, the schema says %s", name, f.name, kinds[f.kind], prop.Type)
			}
			if f.required {
				required = append(required, f.name)
			}
		}
		if len(requestFields(op)) != len(s.Properties) {
			t.Errorf("%s: %d fields checked, the schema has %d", name, len(requestFields(op)), len(s.Properties))
		}
		sort.Strings(required)
		want := slices.Clone(s.Required)
		sort.Strings(want)
		if !slices.Equal(required, want) {
			t.Errorf("%s: required %q, the schema requires %q", name, required, want)
		}
	}
	for schema, known := range map[string]func(string) bool{"TaskStatus": knownTaskStatus, "WorkerStatus": knownWorkerStatus} {
		for _, v := range schemas[schema].Enum {
			if !known(v) {
				t.Errorf("%s %q is not known to the fake", schema, v)
			}
		}
		if known("bogus") {
			t.Errorf("%s: the fake knows any value", schema)
		}
	}
}

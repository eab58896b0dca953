package store

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/pkg/policy"
)

const svcA = "kind: Service\nname: a\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9001}]\n"

func tree(files map[string]string) *Tree {
	t := &Tree{Files: map[string][]byte{}}
	for p, s := range files {
		t.Files[p] = []byte(s)
	}
	return t
}

func mustParse(t *testing.T, s string) []Object {
	t.Helper()
	objs, err := ParseObjects([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestPlanApply(t *testing.T) {
	shared := "# services of team a\n" + svcA + "---\n# b stays as written\nkind: Service\nname: b   # keep me\nspec:\n  discovery:\n    static: [{address: 127.0.0.1, port: 9002}]\n"
	cases := []struct {
		name    string
		files   map[string]string
		apply   string
		del     []Ref
		want    map[string]string // path -> substring of new content; "" = removed
		actions []string
		wantErr string
	}{
		{
			name:    "new object gets its own file",
			apply:   svcA,
			want:    map[string]string{"services/a.yaml": "name: a"},
			actions: []string{"Service/a created"},
		},
		{
			name:    "replaced in its file, neighbour keeps its bytes",
			files:   map[string]string{"svc.yaml": shared},
			apply:   strings.Replace(svcA, "9001", "9009", 1),
			want:    map[string]string{"svc.yaml": "# b stays as written\nkind: Service\nname: b   # keep me\n"},
			actions: []string{"Service/a configured"},
		},
		{
			name:    "same content written differently is unchanged",
			files:   map[string]string{"svc.yaml": shared},
			apply:   `{"kind":"Service","name":"a","spec":{"discovery":{"static":[{"address":"127.0.0.1","port":9001}]}}}`,
			want:    map[string]string{},
			actions: []string{"Service/a unchanged"},
		},
		{
			name:    "deletion keeps the other document",
			files:   map[string]string{"svc.yaml": shared},
			del:     []Ref{{"Service", "a"}},
			want:    map[string]string{"svc.yaml": "name: b   # keep me"},
			actions: []string{"Service/a deleted"},
		},
		{
			name:    "deleting the last document removes the file",
			files:   map[string]string{"services/a.yaml": svcA},
			del:     []Ref{{"Service", "a"}},
			want:    map[string]string{"services/a.yaml": ""},
			actions: []string{"Service/a deleted"},
		},
		{
			name:    "stable name taken by another file",
			files:   map[string]string{"services/a.yaml": "# nothing here yet\n"},
			apply:   svcA,
			want:    map[string]string{"services/a-2.yaml": "name: a"},
			actions: []string{"Service/a created"},
		},
		{
			name:    "a file that is not valid YAML may define it",
			files:   map[string]string{"broken.yaml": "kind: Service\nname: a\nspec: [\n"},
			apply:   svcA,
			wantErr: "Service/a may be defined in broken.yaml, which is not valid YAML",
		},
		{
			name:    "a broken file that does not mention it does not block",
			files:   map[string]string{"broken.yaml": "kind: Route\nname: x\nspec: [\n"},
			apply:   svcA,
			want:    map[string]string{"services/a.yaml": "name: a"},
			actions: []string{"Service/a created"},
		},
		{
			name:    "deleting what is not there",
			del:     []Ref{{"Route", "nope"}},
			wantErr: "Route/nope: no such object",
		},
		{
			name:    "defined twice",
			files:   map[string]string{"x.yaml": svcA, "y.yaml": svcA},
			apply:   svcA,
			wantErr: "Service/a is defined twice (x.yaml and y.yaml)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []Object
			if tc.apply != "" {
				objs = mustParse(t, tc.apply)
			}
			changes, diffs, err := PlanApply(tree(tc.files), objs, tc.del)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != len(tc.want) {
				t.Fatalf("changes %+v, want %d", changes, len(tc.want))
			}
			for _, c := range changes {
				want, ok := tc.want[c.Path]
				switch {
				case !ok:
					t.Errorf("unexpected change of %s", c.Path)
				case want == "" && c.Content != nil:
					t.Errorf("%s: want it removed, got %q", c.Path, c.Content)
				case !strings.Contains(string(c.Content), want):
					t.Errorf("%s = %q, want it to contain %q", c.Path, c.Content, want)
				}
			}
			var got []string
			for _, d := range diffs {
				got = append(got, d.Ref.String()+" "+d.Action)
			}
			if strings.Join(got, ",") != strings.Join(tc.actions, ",") {
				t.Errorf("actions %v, want %v", got, tc.actions)
			}
			// Whatever was written must load as the policy it means.
			was := map[string]bool{}
			for _, r := range Load(tree(tc.files), policy.Options{}).Rejected {
				was[r.Ref] = true
			}
			for _, r := range Load(Apply(tree(tc.files), changes), policy.Options{}).Rejected {
				if !was[r.Ref] {
					t.Errorf("written tree does not load: %+v", r)
				}
			}
		})
	}
}

func TestParseObjectsErrors(t *testing.T) {
	cases := map[string]string{
		"kind: Nope\nname: a\nspec: {}\n":         `document 1 (line 1): kind: "Nope" is not a kind`,
		"kind: Route\nname: Bad_Name\nspec: {}\n": `Route: name: "Bad_Name" must match`,
		svcA + "---\n" + svcA:                     "Service/a is given twice",
		"- just\n- a list\n":                      "document 1, item 1 (line 1): expected an object",
		"kind: [\n":                               "document 1:",
	}
	for in, want := range cases {
		_, err := ParseObjects([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseObjects(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestJSONBecomesBlockYAML(t *testing.T) {
	objs := mustParse(t, `[{"kind":"Route","name":"r","labels":{"v":"2"},"spec":{"gateways":["g"]}}]`)
	out, err := Encode(objs[0].Doc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "{") || !strings.Contains(out, `v: "2"`) {
		t.Errorf("encoded JSON object:\n%s\nwant block style with the string \"2\" still a string", out)
	}
}

func TestRollbackChanges(t *testing.T) {
	cur := tree(map[string]string{"a.yaml": "1", "b.yaml": "2"})
	target := tree(map[string]string{"a.yaml": "0", "c.yaml": "3"})
	got := Apply(cur, RollbackChanges(cur, target))
	if len(got.Files) != 2 || string(got.Files["a.yaml"]) != "0" || string(got.Files["c.yaml"]) != "3" {
		t.Errorf("rolled back to %v, want a.yaml=0 c.yaml=3", got.Files)
	}
	if n := len(RollbackChanges(target, target)); n != 0 {
		t.Errorf("%d changes between equal trees", n)
	}
}

func TestValidate(t *testing.T) {
	route := "kind: Gateway\nname: g\nspec:\n  listeners: [{name: http, port: 8080, protocol: HTTP}]\n---\n" +
		"kind: Route\nname: r\nspec:\n  gateways: [g]\n  backends: [{service: a}]\n"
	before := tree(map[string]string{"svc.yaml": svcA, "route.yaml": route, "old.yaml": "kind: Route\nname: broken\nspec: {bogus: 1}\n"})
	cases := []struct {
		name  string
		apply string
		del   []Ref
		want  []string // refs that block
	}{
		{name: "clean change", apply: strings.Replace(svcA, "9001", "9002", 1)},
		{name: "bad field of an applied object", apply: strings.Replace(svcA, "port: 9001", "port: 9001, wieght: 2", 1), want: []string{"Route/r", "Service/a"}}, // the Route loses its backend
		{name: "deletion breaks a reference", del: []Ref{{"Service", "a"}}, want: []string{"Route/r"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []Object
			var touched []Ref
			if tc.apply != "" {
				objs = mustParse(t, tc.apply)
			}
			for _, o := range objs {
				touched = append(touched, o.Ref)
			}
			changes, _, err := PlanApply(before, objs, tc.del)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range Validate(before, Apply(before, changes), append(touched, tc.del...), policy.Options{}) {
				got = append(got, r.Ref)
				if len(r.Errors) == 0 {
					t.Errorf("%s rejected without a reason", r.Ref)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("blocking %v, want %v", got, tc.want)
			}
		})
	}
}

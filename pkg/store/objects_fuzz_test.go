package store

import (
	"slices"
	"strings"
	"testing"
)

// FuzzPlanApply feeds an existing policy file and an apply body (both
// attacker-controlled through the API) to the object layer. Whatever it
// accepts, the tree it writes must define every applied object exactly
// once, with the content applied, and keep every other object.
func FuzzPlanApply(f *testing.F) {
	f.Add("# team a\n"+svcA+"---\nkind: Service\nname: b\nspec: {}\n", strings.Replace(svcA, "9001", "9002", 1))
	f.Add("---\n"+svcA, `[{"kind":"Route","name":"r","spec":{}}]`)
	f.Add("a: |\n  ---\n  kind: Service\n---\n"+svcA, svcA)
	f.Add("", "kind: Plan\nname: p\nspec: {}\n---\nkind: Plan\nname: q\nspec: {}\n")
	f.Fuzz(func(t *testing.T, existing, body string) {
		objs, err := ParseObjects([]byte(body))
		if err != nil {
			return
		}
		before := &Tree{Files: map[string][]byte{"policy.yaml": []byte(existing)}}
		old, _ := Objects(before)
		changes, _, err := PlanApply(before, objs, nil)
		if err != nil {
			return
		}
		after := Apply(before, changes)
		got, err := Objects(after)
		if err != nil {
			t.Fatal(err)
		}
		count := map[Ref]int{}
		for _, o := range got {
			count[o.Ref]++
		}
		for _, o := range objs {
			if count[o.Ref] != 1 {
				t.Fatalf("%s defined %d times after the apply; files: %q", o.Ref, count[o.Ref], after.Files)
			}
			i := slices.IndexFunc(got, func(g StoredObject) bool { return g.Ref == o.Ref })
			if !sameContent(got[i].Doc, o.Doc) {
				t.Fatalf("%s stored as\n%s\nwant\n%s", o.Ref, Canonical(got[i].Doc), Canonical(o.Doc))
			}
		}
		for _, o := range old {
			if slices.ContainsFunc(objs, func(a Object) bool { return a.Ref == o.Ref }) {
				continue
			}
			if !slices.ContainsFunc(got, func(g StoredObject) bool { return g.Ref == o.Ref && sameContent(g.Doc, o.Doc) }) {
				t.Fatalf("%s lost or changed by an apply of other objects; files: %q", o.Ref, after.Files)
			}
		}
	})
}

package corpus.with_rules

import rego.v1

# with replacing rules and user functions (the planner re-plans the rules
# that depend on them) and parts of input, nested and memoized.

default role := "none"

role := input.role

default is_admin := false

is_admin if role == "admin"

double(x) := x * 2

triple(x) := x * 3

default scaled := 0

scaled := double(input.n)

default path_ok := false

path_ok if glob.match("/people/*", ["/"], input.path)

as_admin := v if v := is_admin with data.corpus.with_rules.role as "admin"

as_role := v if v := is_admin with input.role as "admin"

tripled := v if v := scaled with data.corpus.with_rules.double as triple

path := v if v := path_ok with input.path as "/people/1"

nested := [r | some x in ["a", "b"]; r := role with input as {"role": x}]

result := {
	"plain": is_admin,
	"as_admin": as_admin,
	"as_role": as_role,
	"tripled": tripled,
	"scaled": scaled,
	"path": path,
	"nested": nested,
	"after": role,
}

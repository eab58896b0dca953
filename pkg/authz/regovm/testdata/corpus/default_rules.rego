# Default rules: the default value applies only when no other definition
# of the rule succeeds; defaults of every value type; default functions.
package corpus.default_rules

default allow := false

allow if input.method == "GET"

default limit := 10

limit := input.limit if input.limit > 0

default obj := {"empty": true}

obj := input.obj if is_object(input.obj)

default arr := []

arr := input.arr if is_array(input.arr)

default str := ""

str := input.str

default n := null

n := 1 if input.n

default classify(_) := "unknown"

classify(x) := "small" if x < 10

classify(x) := "big" if x >= 10

default pick(_, _) := "none"

pick(a, b) := a if a > b

result := {
	"allow": allow,
	"limit": limit,
	"obj": obj,
	"arr": arr,
	"str": str,
	"n": n,
	"c1": classify(input.limit),
	"c2": classify("text"),
	"c3": classify(5),
	"p1": pick(3, 2),
	"p2": pick(1, 2),
}

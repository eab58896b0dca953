# time.now_ns is one value for the whole evaluation: equal across calls,
# rules and functions; only relations to it appear in results.
package corpus.now_consistency

a := time.now_ns()

f(_) := time.now_ns()

result := {
	"same_call": time.now_ns() == time.now_ns(),
	"same_rule": a == time.now_ns(),
	"same_fn": f(1) == a,
	"after_2020": time.now_ns() > time.parse_rfc3339_ns("2020-01-01T00:00:00Z"),
	"before_2100": time.now_ns() < 4102444800000000000,
	"input_before_now": input.t < time.now_ns(),
	"date_len": count(time.date(time.now_ns())),
}

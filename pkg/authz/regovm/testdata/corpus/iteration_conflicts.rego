# Conflicts produced by iteration inside a single definition: a complete
# rule whose body yields several different values, a function whose body
# does, else branches that disagree with another definition, and the
# non-conflicting cases where every yielded value is equal.
package corpus.iteration_conflicts

first := v if some v in input.list

pick(xs) := v if some v in xs

g(x) := "pos" if {
	x > 0
} else := "nonpos"

g(x) := "neg" if x < 0

result["first"] := first

result["pick"] := pick(input.list)

result["g"] := g(input.n)

result["count"] := count(input.list)

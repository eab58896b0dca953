# else chains on complete rules and functions, including chains whose
# first value is undefined, chains without a final else, and defaults
# combined with else.
package corpus.else_chains

grade := "A" if {
	input.score >= 90
} else := "B" if {
	input.score >= 80
} else := "C" if {
	input.score >= 70
} else := "F"

status := 200 if {
	input.ok == true
} else := 404 if {
	input.missing
} else := 500 if {
	input.broken
}

default status_or_default := 418

status_or_default := 200 if {
	input.ok == true
} else := 403 if {
	input.denied
}

bool_chain if {
	input.a == 1
} else := false if {
	input.a == 2
}

fb(x) := "neg" if {
	x < 0
} else := "zero" if {
	x == 0
} else := "pos"

fs(s) := "prefix" if {
	startswith(s, "pre")
} else := "suffix" if {
	endswith(s, "fix")
}

result contains ["grade", grade]

result contains ["status", status]

result contains ["status_or_default", status_or_default]

result contains ["bool_chain", bool_chain]

result contains ["fb", fb(input.score)]

result contains ["fs", fs(input.word)]

result contains ["fs_sets", {w | some w in input.words; fs(w)}]

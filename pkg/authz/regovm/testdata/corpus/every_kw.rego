# every over arrays, objects, sets and empty collections; every with
# key/value; nested every; every on undefined collections.
package corpus.every_kw

all_positive if every x in input.nums { x > 0 }

all_strings if every v in input.tags { is_string(v) }

all_keys_short if every k, _ in input.obj { count(k) < 4 }

all_pairs_ordered if every i, _ in input.nums {
	i == 0
} else := false

matrix_ok if every row in input.matrix {
	every cell in row { cell >= 0 }
}

every_set if every x in {1, 2, 3} { x < input.limit }

result["all_positive"] := all_positive

result["all_strings"] := all_strings

result["all_keys_short"] := all_keys_short

result["matrix_ok"] := matrix_ok

result["every_set"] := every_set

result["not_all_positive"] := true if not all_positive

result["first_only"] := all_pairs_ordered

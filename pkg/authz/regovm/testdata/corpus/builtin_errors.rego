# Built-in errors are undefined (not errors) outside strict mode: type
# errors on runtime values, division/modulo by zero, invalid conversions,
# invalid regexes, and errors inside negation, comprehensions and
# function bodies. Each entry is independent so the others stay defined.
package corpus.builtin_errors

out contains "to_number_bad" if to_number(input.s)

out contains "div_zero" if input.n / 0

out contains "mod_zero" if input.n % 0

out contains "mod_float" if input.f % 2

out contains "not_div_zero" if not input.n / 0

out contains "not_to_number" if not to_number(input.s)

out contains "upper_num" if upper(input.n)

out contains "count_num" if count(input.n)

out contains "regex_bad" if regex.match("(", input.s)

out contains "not_regex_bad" if not regex.match("(", input.s)

out contains "split_num" if split(input.n, ",")

out contains "concat_mixed" if concat(",", input.mixed)

out contains "sum_mixed" if sum(input.mixed)

out contains "json_bad" if json.unmarshal(input.s)

out contains "b64_bad" if base64.decode(input.s)

out contains "plus_string" if input.s + 1

out contains "array_index_bad" if input.mixed[input.s]

out contains sprintf("comp_%d", [count(c)]) if {
	c := [x | some v in input.mixed; x := to_number(v)]
}

out contains sprintf("fn_%v", [f(input.s)])

f(x) := y if y := to_number(x) + 1

out contains "fn_else" if g(input.s) == "fallback"

g(x) := to_number(x) if true else := "fallback"

out contains "object_get_bad" if object.get(input.s, "k", 1)

out contains "sprintf_bad" if sprintf(input.s, input.n)

out contains "numbers_range_float" if numbers.range(1, input.n / 4)

out contains "time_bad" if time.parse_rfc3339_ns(input.s)

result := out

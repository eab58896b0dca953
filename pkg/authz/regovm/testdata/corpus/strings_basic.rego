# String built-ins: concat, split, lower/upper, startswith, endswith,
# contains, trim family, replace, indexof, substring, strings.reverse,
# strings.count, format_int, to_number, and errors on wrong types.
package corpus.strings_basic

s := input.s

out["concat"] := concat(input.sep, input.parts)

out["concat_set"] := concat(",", {x | some x in input.parts})

out["split"] := split(s, input.sep)

out["lower"] := lower(s)

out["upper"] := upper(s)

out["startswith"] := startswith(s, "ab")

out["endswith"] := endswith(s, "yz")

out["contains"] := contains(s, input.sep)

out["trim"] := trim(s, " -")

out["trim_space"] := trim_space(s)

out["trim_left"] := trim_left(s, "a")

out["trim_right"] := trim_right(s, "z")

out["trim_prefix"] := trim_prefix(s, "ab")

out["trim_suffix"] := trim_suffix(s, "yz")

out["replace"] := replace(s, "a", "A")

out["replace_n"] := strings.replace_n({"a": "1", "b": "2"}, s)

out["indexof"] := indexof(s, "c")

out["indexof_n"] := indexof_n(s, "a")

out["substring"] := substring(s, 1, 3)

out["substring_neg"] := substring(s, 1, -1)

out["reverse"] := strings.reverse(s)

out["count"] := count(s)

out["strings_count"] := strings.count(s, "a")

out["to_number"] := to_number(s)

out["format_int"] := format_int(to_number(s), 16)

out["any_prefix"] := strings.any_prefix_match(s, ["x", "ab"])

out["any_suffix"] := strings.any_suffix_match([s, "q"], "yz")

out["eq_concat"] := s == concat("", ["a", "b", "c"])

out["lt"] := s < "b"

result := out

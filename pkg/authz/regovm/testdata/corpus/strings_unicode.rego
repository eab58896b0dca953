# String built-ins on non-ASCII text and edge arguments: rune vs byte
# indexing (indexof, substring, count), case mapping of special letters,
# trim with multi-character cutsets, split and replace with empty
# separators, and out-of-range substring arguments.
package corpus.strings_unicode

out["upper"] := upper(input.s)

out["lower"] := lower(input.s)

out["count"] := count(input.s)

out["indexof"] := indexof(input.s, input.sub)

out["indexof_n"] := indexof_n(input.s, input.sub)

out["contains"] := contains(input.s, input.sub)

out["startswith"] := startswith(input.s, input.sub)

out["endswith"] := endswith(input.s, input.sub)

out["substring"] := substring(input.s, input.start, input.len)

out["split_sub"] := split(input.s, input.sub)

out["split_empty"] := split(input.s, "")

out["replace_empty"] := replace(input.s, "", "-")

out["replace_sub"] := replace(input.s, input.sub, "")

out["trim_sub"] := trim(input.s, input.sub)

out["trim_left_sub"] := trim_left(input.s, input.sub)

out["trim_prefix_sub"] := trim_prefix(input.s, input.sub)

out["concat"] := concat(input.sub, [input.s, input.s])

out["reverse"] := strings.reverse(input.s)

out["eq_lower"] := lower(input.s) == lower(upper(input.s))

result := out

# regex.match, regex.find_n, regex.split, regex.replace, regex.is_valid,
# invalid patterns (undefined), and glob.match with default delimiters,
# custom delimiters, empty delimiters, ** and character classes.
package corpus.regex_glob

out["re_match"] := regex.match(input.re, input.s)

out["re_valid"] := regex.is_valid(input.re)

out["re_find"] := regex.find_n(input.re, input.s, -1)

out["re_split"] := regex.split(input.re, input.s)

out["re_replace"] := regex.replace(input.s, input.re, "_")

out["re_groups"] := regex.find_all_string_submatch_n(input.re, input.s, 2)

out["glob_default"] := glob.match(input.glob, null, input.s)

out["glob_dot"] := glob.match(input.glob, ["."], input.s)

out["glob_slash"] := glob.match(input.glob, ["/"], input.s)

out["glob_multi"] := glob.match(input.glob, [".", "/", ":"], input.s)

out["glob_empty"] := glob.match(input.glob, [], input.s)

out["glob_quote"] := glob.quote_meta(input.glob)

out["people"] := glob.match("/people/*", ["/"], input.s)

out["api_any"] := glob.match("/api/**", ["/"], input.s)

out["classes"] := glob.match("[a-c]?{x,y}*", [], input.s)

out["host"] := glob.match("*.example.com", ["."], input.s)

result := object.union(out, {"extra": extra})

extra["template_match"] := regex.template_match("urn:foo:{.*}", input.s, "{", "}")

extra["globs_match"] := regex.globs_match(input.glob_a, input.glob_b)

extra["render"] := strings.render_template("{{.name}}-{{.n}}", {"name": input.s, "n": 1})

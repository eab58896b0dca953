# with replacing built-ins that may have native fast paths by values:
# time.now_ns (and arithmetic on it), concat, count, directly on the
# call (a value replacing glob.match under a rule is in with_builtins).
package corpus.with_builtin_values

path_ok if glob.match(input.pattern, ["/"], input.path)

result["now_value"] := v if {
	v := time.now_ns() with time.now_ns as 1700000000000000000
}

result["now_seconds"] := v if {
	v := (time.now_ns() / 1000000000) with time.now_ns as 1700000000123456789
}

result["window"] := v if {
	v := [input.nbf <= time.now_ns() / 1000000000, time.now_ns() / 1000000000 < input.exp] with time.now_ns as 1700000000000000000
}

result["concat_value"] := v if {
	v := concat(",", input.list) with concat as "c"
}

result["count_value"] := v if {
	v := count(input.list) with count as 7
}

result["glob_real"] := true if path_ok

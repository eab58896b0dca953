# with glob.match replaced by a function, on a rule whose body calls
# glob.match with a constant pattern. topdown's rule indexer selects rules
# by constant glob.match patterns before evaluation, without regard to
# the with replacement, so the mocked rule is undefined when the real
# glob would not match; the other entries are controls without that
# index shape.
package corpus.with_glob_index

mock_glob(_, _, _) := true

path_ok if glob.match("/people/*", ["/"], input.path)

path_ok_dyn if glob.match(input.pattern, ["/"], input.path)

result["indexed_rule_mocked"] := v if {
	v := path_ok with glob.match as mock_glob
}

result["dynamic_rule_mocked"] := v if {
	v := path_ok_dyn with glob.match as mock_glob
}

result["call_mocked"] := v if {
	v := glob.match("/people/*", ["/"], input.path) with glob.match as mock_glob
}

result["value_mocked"] := v if {
	v := path_ok with glob.match as false
}

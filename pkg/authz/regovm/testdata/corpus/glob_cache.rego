# glob.match with the same pattern under different delimiter lists
# (null, [], ["."], ["/"], [".", "/"], multi-character and empty
# delimiters) evaluated one after another, so a compiled-glob cache must
# key on pattern and delimiters exactly.
package corpus.glob_cache

delims := [null, [], ["."], ["/"], [".", "/"], ["/", "."], ["ab"], [""], [":"], ["*"]]

result := [[d, m] |
	some d in delims
	m := glob.match(input.pattern, d, input.s)
]

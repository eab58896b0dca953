# Rules topdown's indexer selects by input equality, matched against
# numbers in other representations (1.0, 1e0, big and float forms),
# composite values containing numbers, and `in` over constant sets.
package corpus.index_numbers

level contains "one" if input.level == 1

level contains "two" if input.level == 2.0

level contains "big" if input.level == 12345678901234567890

level contains "half" if input.level == 0.5

level contains "arr" if input.level == [1, "a"]

level contains "obj" if input.level == {"n": 1}

level contains "in_set" if input.level in {3, 4.0, "x"}

level contains "glob" if glob.match("/api/*", ["/"], input.path)

level contains "glob_other" if glob.match("/api/v1/*", ["/"], input.path)

level contains "neq" if input.level != 1

result := level

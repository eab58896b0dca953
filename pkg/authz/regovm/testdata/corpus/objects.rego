# Object built-ins: object.get (with default, with path arrays),
# object.union, object.union_n, object.remove, object.filter, object.keys,
# object.subset, json.filter/json.remove/json.patch, and key lookups
# with non-string keys.
package corpus.objects

o := input.obj

out["get"] := object.get(o, "a", "default")

out["get_path"] := object.get(o, ["nested", "deep"], "none")

out["get_missing_path"] := object.get(o, ["nested", "zzz", "deeper"], 0)

out["union"] := object.union(o, {"a": "override", "new": {"x": 1}})

out["union_deep"] := object.union({"nested": {"keep": true, "deep": 0}}, o)

out["union_n"] := object.union_n([{"a": 1}, o, {"z": 26}])

out["remove"] := object.remove(o, ["a", "missing"])

out["filter"] := object.filter(o, {"a", "nested"})

out["keys"] := object.keys(o)

out["subset"] := object.subset(o, {"a": 1})

out["json_filter"] := json.filter(o, ["nested/deep", "a"])

out["json_remove"] := json.remove(o, ["nested"])

out["json_patch"] := json.patch(o, [{"op": "add", "path": "/added", "value": [1]}])

out["has_a"] := "a" in object.keys(o)

out["index_num_key"] := {1: "one", "1": "string-one"}[1]

out["index_str_key"] := {1: "one", "1": "string-one"}["1"]

out["len"] := count(o)

result := out

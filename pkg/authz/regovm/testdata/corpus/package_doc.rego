# Reading a package's virtual document as a value: the subtree under
# data.corpus.package_doc.doc (complete, partial set, partial object and
# function-free rules together), iteration over it, and lookups of
# missing keys of data.
package corpus.package_doc

doc.name := "pkg"

doc.enabled if input.on

doc.items contains x if some x in input.items

doc.index[x] := i if some i, x in input.items

doc.sub.deeper.value := input.v

keys := {k | some k, _ in data.corpus.package_doc.doc}

missing if data.corpus.package_doc.nope

missing if data.corpus.nothing_here.at_all

default missing_flag := false

missing_flag := missing

result := {
	"doc": data.corpus.package_doc.doc,
	"keys": keys,
	"missing": missing_flag,
	"item_count": count(data.corpus.package_doc.doc.items),
	"dynamic": [data.corpus.package_doc.doc[k] | some k in input.lookup],
}

# Less common built-ins users put in gateway policies: hashes and HMACs,
# net.cidr_* helpers, units parsing, semver, graph.reachable and uuid
# parsing (walk is in walk_builtin, as the VM may not support it).
package corpus.misc_builtins

out["sha256"] := crypto.sha256(input.s)

out["md5"] := crypto.md5(input.s)

out["sha1"] := crypto.sha1(input.s)

out["hmac"] := crypto.hmac.sha256(input.s, "key")

out["hmac_eq"] := crypto.hmac.equal(crypto.hmac.sha256(input.s, "key"), input.mac)

out["cidr_contains"] := net.cidr_contains("10.0.0.0/8", input.ip)

out["cidr_intersects"] := net.cidr_intersects("10.0.0.0/8", input.cidr)

out["cidr_is_valid"] := net.cidr_is_valid(input.cidr)

out["cidr_expand_count"] := count(net.cidr_expand(input.small_cidr))

out["cidr_merge"] := net.cidr_merge([input.cidr, "10.0.0.0/9", "10.128.0.0/9"])

out["units_bytes"] := units.parse_bytes(input.size)

out["units"] := units.parse(input.size)

out["semver_valid"] := semver.is_valid(input.version)

out["semver_cmp"] := semver.compare(input.version, "1.2.3")

out["reachable"] := graph.reachable({"a": ["b"], "b": ["c"], "c": [], "d": ["a"]}, [input.start])

out["uuid_parse"] := uuid.parse(input.uuid)

out["ip_in_list"] := net.cidr_contains_matches(["192.168.0.0/16", "10.0.0.0/8"], input.ip)

result := out

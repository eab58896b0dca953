# Who may do what on /orders. Written as an opa-envoy-plugin policy
# (input.attributes...), with gatehouse's helpers and input.gatehouse.
package envoy.authz

import data.gatehouse.lib

default allow := false

# Partners may read.
allow if {
	lib.method_in(["GET", "HEAD"])
	lib.in_group("partners")
}

# Writes need the partners group and a JSON body naming an order id.
allow if {
	lib.method_in(["POST", "PUT"])
	lib.in_group("partners")
	is_string(input.parsed_body.order_id)
}

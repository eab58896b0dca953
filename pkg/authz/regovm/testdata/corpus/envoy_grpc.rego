# gRPC authorization over Envoy: the path is /package.Service/Method,
# metadata arrives as headers, and method-level permissions come from a
# table with service wildcards.
package corpus.envoy_grpc

import input.attributes.request.http

default allow := false

parts := split(trim_prefix(http.path, "/"), "/")

service := parts[0]

method := parts[1]

is_grpc if startswith(http.headers["content-type"], "application/grpc")

permissions := {
	"helloworld.Greeter": {"SayHello": {"guest", "admin"}, "*": {"admin"}},
	"grpc.health.v1.Health": {"*": {"anonymous", "guest", "admin"}},
}

caller_role := http.headers["x-role"]

default role := "anonymous"

role := caller_role

allowed_roles := permissions[service][method]

allowed_roles := permissions[service]["*"] if not permissions[service][method]

allow if {
	is_grpc
	count(parts) == 2
	role in allowed_roles
}

result := {
	"allow": allow,
	"service": object.get({"s": service_or_null}, "s", null),
	"status": status,
}

default service_or_null := null

service_or_null := service

status := 0 if allow else := 7

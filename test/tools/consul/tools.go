//go:build tools

// Package tools pins the Consul agent that the tests run. It lives in its own
// module so that Consul's dependencies never enter gatehouse's go.mod.
// Build it with `make consul` (cached outside the repository).
package tools

import _ "github.com/hashicorp/consul"

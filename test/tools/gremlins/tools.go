//go:build tools

// Package tools pins the mutation-testing tool that `make mutate` builds
// (github.com/go-gremlins/gremlins). It lives in its own module so the tool's
// dependencies never enter the project's go.mod.
package tools

import _ "github.com/go-gremlins/gremlins/cmd/gremlins"

//go:build tools

// Package tools pins the ORY Hydra OAuth2/OIDC server that the identity
// provider tests run (test/idp/hydratest). It lives in its own module so that
// Hydra's dependencies never enter gatehouse's go.mod. Build it with
// `make hydra` (cached outside the repository; the sqlite build tags come from
// Hydra's own Makefile: sqlite,sqlite_omit_load_extension).
package tools

import _ "github.com/ory/hydra/v2"

// Command coredns is CoreDNS with only the plugins the DNS discovery tests
// use (bind, file, hosts, log, errors), built in its own module so that CoreDNS's
// dependencies never enter gatehouse's go.mod and the cloud-provider plugins
// of the stock build are not compiled. Build it with `make coredns` (cached
// outside the repository).
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/log"
)

func init() {
	// Only the directives compiled in: CoreDNS orders plugins by this list.
	dnsserver.Directives = []string{"bind", "errors", "log", "hosts", "file"}
}

func main() { coremain.Run() }

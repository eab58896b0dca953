// Command protoset writes the FileDescriptorSet of a .proto file and its
// imports (protoc --include_imports --descriptor_set_out, without
// protoc): go run ./internal/protoset/cmd/protoset -o x.pb x.proto. The
// examples' go generate steps and the translator's golden cases use it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/internal/protoset"
)

func main() {
	out := flag.String("o", "", "the descriptor set file to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: protoset -o OUT.pb FILE.proto")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "protoset:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	name := filepath.Base(in)
	data, err := protoset.Compile(map[string]string{name: string(src)}, name)
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

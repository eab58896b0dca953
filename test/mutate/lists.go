package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// equivalent is a mutant that cannot be killed because it changes no
// behaviour. It is named by file, mutation ("==->!=") and the text of its
// line (not the line number, which moves with every edit above it), so an
// entry whose line changed stops matching and the mutant is reported again.
type equivalent struct {
	file, typ, code, reason string
}

func (e equivalent) key() string { return e.file + "|" + e.typ + "|" + e.code }

func (e equivalent) String() string {
	return fmt.Sprintf("%s %s `%s` (%s)", e.file, e.typ, e.code, e.reason)
}

// readEquivalents reads equivalent.txt: "FILE | MUTATION | CODE | REASON"
// per line, CODE being the mutated line without its indentation.
func readEquivalents(name string) ([]equivalent, error) {
	var out []equivalent
	err := eachLine(name, func(n int, l string) error {
		fs := strings.Split(l, " | ")
		if len(fs) != 4 {
			return fmt.Errorf("%s:%d: want FILE | MUTATION | CODE | REASON", name, n)
		}
		for i := range fs {
			fs[i] = strings.TrimSpace(fs[i])
		}
		if fs[3] == "" {
			return fmt.Errorf("%s:%d: an equivalent mutant needs a reason", name, n)
		}
		out = append(out, equivalent{file: fs[0], typ: fs[1], code: fs[2], reason: fs[3]})
		return nil
	})
	return out, err
}

func eachLine(name string, fn func(n int, line string) error) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if err := fn(n, l); err != nil {
			return err
		}
	}
	return sc.Err()
}

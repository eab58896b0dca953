package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
)

// A mutant is one small change to one function of the security decisions:
// a comparison or logical operator swapped, a negation dropped, a boolean
// constant flipped, or an arithmetic operator swapped. Each is the kind of
// slip that turns a deny into an allow.
type mutant struct {
	file     string // relative to the module root
	fn       string
	line     int
	col      int
	offset   int // byte offset of the replaced text
	old, new string
	nth      int    // 1 for the first mutant of old to new on its line, 2 for the next...
	code     string // the line, without indentation (how equivalent.txt names it)
	// whole, when set, replaces the source from start to end instead of old
	// at offset: a swapped && or || rewrites its whole expression with both
	// operands parenthesised, so that the mutant is the tree with one
	// operator changed (as gremlins makes it) and not what the text re-parses
	// to: swapping the second && of "a && b && c" in the text alone gives
	// "a && b || c", which Go reads as (a && b) || c, but swapping the first
	// gives "a || b && c", read as a || (b && c) rather than (a || b) && c.
	whole      string
	start, end int
}

func (m mutant) String() string {
	return fmt.Sprintf("%s:%d:%d %s: %s in `%s`", m.file, m.line, m.col, m.fn, m.kind(), m.code)
}

// kind names the mutation for equivalent.txt: "||->&& #2" is the second
// || of its line turned into &&.
func (m mutant) kind() string {
	return fmt.Sprintf("%s->%s #%d", m.old, strings.TrimSpace(m.new), m.nth)
}

// apply returns src with the mutation made.
func (m mutant) apply(src []byte) []byte {
	if m.whole != "" {
		out := make([]byte, 0, len(src)+len(m.whole))
		out = append(out, src[:m.start]...)
		out = append(out, m.whole...)
		return append(out, src[m.end:]...)
	}
	out := make([]byte, 0, len(src)+len(m.new))
	out = append(out, src[:m.offset]...)
	out = append(out, m.new...)
	return append(out, src[m.offset+len(m.old):]...)
}

// binarySwaps are the replacements of each binary operator. An ordering
// is only moved across its boundary (< to <=): its negation (< to >=) is
// killed by any test that takes either branch, which costs a build and
// proves little.
var binarySwaps = map[token.Token][]token.Token{
	token.EQL:  {token.NEQ},
	token.NEQ:  {token.EQL},
	token.LSS:  {token.LEQ},
	token.LEQ:  {token.LSS},
	token.GTR:  {token.GEQ},
	token.GEQ:  {token.GTR},
	token.LAND: {token.LOR},
	token.LOR:  {token.LAND},
	token.ADD:  {token.SUB},
	token.SUB:  {token.ADD},
	token.MUL:  {token.QUO},
	token.QUO:  {token.MUL},
}

// findMutants lists the mutants of the named functions of file (all of
// them when funcs holds "*"), in source order. A listed function the file
// lacks is an error, so security.txt cannot silently go stale.
func findMutants(root, file string, funcs []string) ([]mutant, error) {
	src, err := os.ReadFile(root + "/" + file)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, 0)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range funcs {
		want[n] = true
	}
	lines := strings.Split(string(src), "\n")
	var out []mutant
	found := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil || (!want["*"] && !want[fd.Name.Name]) {
			continue
		}
		found[fd.Name.Name] = true
		add := func(pos token.Pos, old, new string) {
			p := fset.Position(pos)
			out = append(out, mutant{file: file, fn: fd.Name.Name, line: p.Line, col: p.Column,
				offset: p.Offset, old: old, new: new, code: strings.TrimSpace(lines[p.Line-1])})
		}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.BinaryExpr:
				if isStringConcat(x) {
					return true
				}
				for _, t := range binarySwaps[x.Op] {
					add(x.OpPos, x.Op.String(), t.String())
					if x.Op == token.LAND || x.Op == token.LOR {
						m := &out[len(out)-1]
						m.start, m.end = fset.Position(x.Pos()).Offset, fset.Position(x.End()).Offset
						xEnd, yPos := fset.Position(x.X.End()).Offset, fset.Position(x.Y.Pos()).Offset
						// Between the operands: the operator and any line
						// break, kept so that lines do not move.
						between := strings.Replace(string(src[xEnd:yPos]), x.Op.String(), t.String(), 1)
						m.whole = "((" + string(src[m.start:xEnd]) + ")" + between + "(" + string(src[yPos:m.end]) + "))"
					}
				}
			case *ast.UnaryExpr:
				if x.Op == token.NOT {
					add(x.OpPos, "!", " ")
				}
			case *ast.Ident:
				switch x.Name {
				case "true":
					add(x.Pos(), "true", "false")
				case "false":
					add(x.Pos(), "false", "true")
				}
			}
			return true
		})
	}
	for _, n := range funcs {
		if n != "*" && !found[n] {
			return nil, fmt.Errorf("%s: no function %s (update security.txt)", file, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].offset < out[j].offset })
	seen := map[string]int{}
	for i := range out {
		k := fmt.Sprintf("%d %s %s", out[i].line, out[i].old, out[i].new)
		seen[k]++
		out[i].nth = seen[k]
	}
	return out, nil
}

// isStringConcat reports a + between string literals or with one on
// either side: swapping it cannot compile, so it is not worth a build.
func isStringConcat(x *ast.BinaryExpr) bool {
	if x.Op != token.ADD {
		return false
	}
	for _, e := range []ast.Expr{x.X, x.Y} {
		if l, ok := e.(*ast.BasicLit); ok && l.Kind == token.STRING {
			return true
		}
		if b, ok := e.(*ast.BinaryExpr); ok && isStringConcat(b) {
			return true
		}
	}
	return false
}

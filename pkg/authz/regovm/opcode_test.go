package regovm

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"
)

// TestEveryStatementHasAnOpcode parses program.go for the compiled
// statement types, so a new statement without an opcode (which exec
// would reject at run time) fails here.
func TestEveryStatementHasAnOpcode(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "program.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[opcode]string{}
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, sp := range g.Specs {
			ts := sp.(*ast.TypeSpec)
			if len(ts.Name.Name) < 2 || ts.Name.Name[0] != 's' || ts.Name.Name[1] < 'A' || ts.Name.Name[1] > 'Z' {
				continue
			}
			n++
			op := opOf(sampleStmt(ts.Name.Name))
			if op == opInvalid {
				t.Errorf("%s has no opcode", ts.Name.Name)
			}
			if other, dup := seen[op]; dup {
				t.Errorf("%s and %s share opcode %d", ts.Name.Name, other, op)
			}
			seen[op] = ts.Name.Name
		}
	}
	if n < 30 {
		t.Fatalf("found %d statement types in program.go", n)
	}
}

// sampleStmt is a zero statement of the named type.
func sampleStmt(name string) stmt {
	for _, s := range []stmt{
		&sBlock{}, &sBreak{}, &sScan{}, &sNot{}, &sWith{}, &sCall{}, &sCallBuiltin{},
		&sCallDynamic{}, &sDot{}, &sPath{}, &sEqual{}, &sNotEqual{}, &sNotFalse{}, &sLen{}, &sIsArray{},
		&sIsObject{}, &sIsSet{}, &sIsDefined{}, &sIsUndefined{}, &sMakeNull{}, &sConst{},
		&sMakeArray{}, &sMakeObject{}, &sMakeSet{}, &sMakeRecord{}, &sAssignInt{}, &sAssignVar{},
		&sAssignVarOnce{}, &sResetLocal{}, &sReturnLocal{}, &sResultSetAdd{}, &sNop{},
		&sArrayAppend{}, &sSetAdd{}, &sObjectInsert{}, &sObjectInsertOnce{}, &sObjectMerge{},
	} {
		if typeName(s) == name {
			return s
		}
	}
	return nil
}

func typeName(s stmt) string { return fmt.Sprintf("%T", s)[len("*regovm."):] }

// Package regovm evaluates OPA's IR plans (the plans OPA's Wasm compiler
// consumes) with a small Go interpreter whose values are *ast.Term and whose
// built-ins are OPA's own (or the native versions in fastbuiltin). It exists
// because topdown's general machinery costs far more than the decisions of
// typical authorization policies; a plan the interpreter cannot run exactly
// is rejected by Compile with ErrUnsupported so the caller keeps topdown.
//
// The semantics of every statement follow OPA's Wasm compiler
// (internal/compiler/wasm), including the block/break structure it emits,
// the memoization of functions of input and data only, and how `with`
// suspends that memo.
package regovm

import (
	"errors"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm/fastbuiltin"
)

// ErrUnsupported is wrapped by every Compile error about a plan the VM
// cannot run exactly; callers then evaluate with topdown instead.
var ErrUnsupported = errors.New("regovm: unsupported plan")

// Program is a compiled plan. It is immutable after Compile and safe for
// concurrent evaluation.
type Program struct {
	eval *function // the plan "eval", run as a function of no params
	// evalValue is eval adding each row's one value instead of the row
	// object, when every row is an object of one variable; else nil.
	evalValue *function
	funcs     []*function
	nmemo     int       // number of memoized functions (memo slots)
	npaths    int       // number of cached path prefixes (pathcache.go)
	dynamic   *dynNode  // path tree of CallDynamicStmt targets
	data      *ast.Term // the data document: empty, the VM has no store
	files     []string  // Static.Files, for error locations
	needTime  bool      // some built-in may read BuiltinContext.Time
}

// function is a compiled ir.Func (or the plan, with no params).
type function struct {
	name    string
	params  []int // frame slots of the params, in order
	ret     int   // frame slot of the return local
	nlocals int   // frame size
	blocks  []*block
	memo    int // memo slot, or -1 when not memoized
}

type block struct {
	stmts []stmt
	ops   []opcode // ops[i] is opOf(stmts[i])
}

// operand is a local (frame slot) or a constant.
type operand struct {
	local int
	c     *ast.Term
}

// dynNode resolves the path of a CallDynamicStmt to a function.
type dynNode struct {
	children map[string]*dynNode
	fn       *function
}

// builtin is a resolved built-in: exactly one of fast and td is set.
type builtin struct {
	name string
	fast fastbuiltin.Func
	td   topdown.BuiltinFunc
	void bool // no declared result: the call cannot be undefined
	// collect: the result is the array of all outputs (walk)
	collect bool
	// specialized: fast is fastbuiltin.Specialize's version for the
	// constant arguments of one call site
	specialized bool
}

// The compiled statements, one per ir statement kind.
type (
	stmt interface{}

	sBlock struct{ blocks []*block }
	sBreak struct{ index int }
	sScan  struct {
		source, key, value int
		body               *block
	}
	sNot  struct{ body *block }
	sWith struct {
		local int
		path  []*ast.Term
		value operand
		body  *block
	}
	sCall struct {
		fn     *function
		args   []operand
		result int
	}
	sCallBuiltin struct {
		bi     *builtin
		args   []operand
		result int
		loc    *ast.Location
	}
	sCallDynamic struct {
		args   []int
		path   []operand
		result int
	}
	sDot struct {
		source, key operand
		target      int
	}
	// sPath is a chain of DotStmts with constant keys, each selecting
	// from the previous one's target (input.attributes.request.http.path):
	// one dispatch instead of one per step. Every step's target is written
	// as the DotStmts would.
	sPath struct {
		source  int
		keys    []*ast.Term
		targets []int
		ids     []int // of each prefix, for the path cache; nil: not cached
	}
	sEqual    struct{ a, b operand }
	sNotEqual struct{ a, b operand }
	// sNotFalse is NotEqualStmt(local, false), the planner's test of every
	// boolean expression: any defined value but false passes.
	sNotFalse struct{ source int }
	sLen      struct {
		source operand
		target int
	}
	sIsArray     struct{ source operand }
	sIsObject    struct{ source operand }
	sIsSet       struct{ source operand }
	sIsDefined   struct{ source int }
	sIsUndefined struct{ source int }
	sMakeNull    struct{ target int }
	sConst       struct {
		value  *ast.Term // immutable, shared by every evaluation
		target int
	}
	sMakeArray struct {
		capacity int
		target   int
	}
	sMakeObject struct {
		capacity int // the inserts that follow it
		target   int
	}
	sMakeSet struct{ target int }
	// sMakeRecord is a MakeObjectStmt and its inserts, as a record.
	sMakeRecord struct {
		keys     []string
		keyTerms []*ast.Term
		vals     []operand
		target   int
	}
	sAssignInt struct {
		value  *ast.Term
		target int
	}
	sAssignVar struct {
		source operand
		target int
	}
	sAssignVarOnce struct {
		source operand
		target int
		loc    *ast.Location
	}
	sResetLocal   struct{ target int }
	sReturnLocal  struct{ source int }
	sResultSetAdd struct{ value int }
	sNop          struct{}
	sArrayAppend  struct {
		value operand
		array int
	}
	sSetAdd struct {
		value operand
		set   int
	}
	sObjectInsert struct {
		key, value operand
		object     int
	}
	sObjectInsertOnce struct {
		key, value operand
		object     int
		loc        *ast.Location
	}
	sObjectMerge struct{ a, b, target int }
)

package regovm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatehouse-dev/gatehouse/pkg/authz/regovm/fastbuiltin"
)

// planName is the plan Program.Eval runs: the name rego gives its query.
const planName = "eval"

// unsupportedBuiltins are built-ins whose topdown implementation depends on
// evaluator state the VM does not have (tracing, printing, the runtime, the
// network) or that yield several outputs, which a plan's single result
// cannot represent.
var unsupportedBuiltins = map[string]bool{
	"trace":                  true,
	"print":                  true,
	"internal.print":         true,
	"opa.runtime":            true,
	"http.send":              true,
	"net.lookup_ip_addr":     true,
	"rego.metadata.chain":    true,
	"rego.metadata.rule":     true,
	"internal.test_case":     true,
	"providers.aws.sign_req": true,
}

type compiler struct {
	p        *ir.Policy
	prog     *Program
	strings  []*ast.Term
	funcs    map[string]*function
	builtins map[string]*builtin
	decls    map[string]*ir.BuiltinFunc
	locals   map[ir.Local]int // of the function being compiled
	fn       *function
	foldOK   bool // constant literals may be shared (see fold.go)
	// valueRows: compiling the plan for EvalValue (see rows.go)
	valueRows, rowsRewritten int
	rowUses                  map[ir.Local]int
	foldInfo                 foldInfo // of the function being compiled
	// consts: of the statement list being compiled, the locals holding a
	// folded literal (see block)
	consts map[int]*ast.Term
	// paths: the ids of cached path prefixes, nil when paths are not
	// cached (see pathcache.go)
	paths map[string]int
}

// Compile checks that every statement and built-in of p is supported and
// turns the plan into a Program. Errors about unsupported constructs wrap
// ErrUnsupported.
func Compile(p *ir.Policy) (*Program, error) {
	if p == nil || p.Static == nil || p.Plans == nil {
		return nil, fmt.Errorf("%w: incomplete policy", ErrUnsupported)
	}
	c := &compiler{
		p:        p,
		prog:     &Program{data: ast.NewTerm(ast.NewObject())},
		funcs:    map[string]*function{},
		builtins: map[string]*builtin{},
		decls:    map[string]*ir.BuiltinFunc{},
	}
	for _, s := range p.Static.Strings {
		c.strings = append(c.strings, ast.StringTerm(s.Value))
	}
	for _, f := range p.Static.Files {
		c.prog.files = append(c.prog.files, f.Value)
	}
	for _, b := range p.Static.BuiltinFuncs {
		c.decls[b.Name] = b
	}
	c.foldOK = foldAll(p)
	if c.foldOK && allRuns(p) {
		c.paths = map[string]int{}
	}
	var irFuncs []*ir.Func
	if p.Funcs != nil {
		irFuncs = p.Funcs.Funcs
	}
	c.prog.dynamic = &dynNode{}
	for _, f := range irFuncs {
		if len(f.Params) == 0 {
			return nil, fmt.Errorf("%w: func %s has no params", ErrUnsupported, f.Name)
		}
		if _, dup := c.funcs[f.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate func %s", ErrUnsupported, f.Name)
		}
		fn := &function{name: f.Name, memo: -1}
		// As the Wasm compiler: functions of exactly input and data are
		// memoized for the evaluation.
		if len(f.Params) == 2 {
			fn.memo = c.prog.nmemo
			c.prog.nmemo++
		}
		c.funcs[f.Name] = fn
		c.prog.funcs = append(c.prog.funcs, fn)
		if len(f.Path) > 0 {
			c.prog.dynamic.insert(f.Path, fn)
		}
	}
	for _, f := range irFuncs {
		if err := c.compileFunc(c.funcs[f.Name], f.Params, f.Return, f.Blocks); err != nil {
			return nil, fmt.Errorf("func %s: %w", f.Name, err)
		}
	}
	for _, pl := range p.Plans.Plans {
		if pl.Name != planName {
			continue
		}
		fn := &function{name: pl.Name, memo: -1}
		// The plan reads input and data from locals 0 and 1, as a function
		// of those two params would; its result set is the output.
		if err := c.compileFunc(fn, []ir.Local{ir.Input, ir.Data}, -1, pl.Blocks); err != nil {
			return nil, fmt.Errorf("plan %s: %w", pl.Name, err)
		}
		c.prog.eval = fn
		c.prog.evalValue = c.valuePlan(pl)
	}
	if c.prog.eval == nil {
		return nil, fmt.Errorf("%w: no plan named %q", ErrUnsupported, planName)
	}
	return c.prog, nil
}

func (n *dynNode) insert(path []string, fn *function) {
	for _, s := range path {
		if n.children == nil {
			n.children = map[string]*dynNode{}
		}
		next := n.children[s]
		if next == nil {
			next = &dynNode{}
			n.children[s] = next
		}
		n = next
	}
	n.fn = fn
}

func (c *compiler) compileFunc(fn *function, params []ir.Local, ret ir.Local, blocks []*ir.Block) error {
	c.fn = fn
	c.locals = map[ir.Local]int{}
	c.foldInfo = analyzeFold(params, blocks)
	for _, p := range params {
		fn.params = append(fn.params, c.local(p))
	}
	fn.ret = -1
	if ret >= 0 {
		fn.ret = c.local(ret)
	}
	for i, b := range blocks {
		cb, err := c.block(b)
		if err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
		fn.blocks = append(fn.blocks, cb)
	}
	fn.nlocals = len(c.locals)
	return nil
}

func (c *compiler) local(l ir.Local) int {
	if i, ok := c.locals[l]; ok {
		return i
	}
	i := len(c.locals)
	c.locals[l] = i
	return i
}

func (c *compiler) operand(o ir.Operand) (operand, error) {
	switch v := o.Value.(type) {
	case ir.Local:
		return operand{local: c.local(v)}, nil
	case ir.Bool:
		return operand{local: -1, c: ast.InternedTerm(bool(v))}, nil
	case ir.StringIndex:
		if int(v) < 0 || int(v) >= len(c.strings) {
			return operand{}, fmt.Errorf("%w: string index %d out of range", ErrUnsupported, v)
		}
		return operand{local: -1, c: c.strings[v]}, nil
	}
	return operand{}, fmt.Errorf("%w: operand %v", ErrUnsupported, o.Value)
}

func (c *compiler) operands(os []ir.Operand) ([]operand, error) {
	out := make([]operand, len(os))
	for i, o := range os {
		var err error
		if out[i], err = c.operand(o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *compiler) blocks(bs []*ir.Block) ([]*block, error) {
	out := make([]*block, len(bs))
	for i, b := range bs {
		var err error
		if out[i], err = c.block(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *compiler) block(b *ir.Block) (*block, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: nil block", ErrUnsupported)
	}
	out := &block{stmts: make([]stmt, 0, len(b.Stmts))}
	// The locals holding a folded literal at this point of the list: a
	// built-in call can be specialized for such an argument.
	saved := c.consts
	c.consts = map[int]*ast.Term{}
	defer func() { c.consts = saved }()
	for i := 0; i < len(b.Stmts); i++ {
		s := b.Stmts[i]
		if v, ok := c.valueRow(b.Stmts, i); ok {
			out.stmts = append(out.stmts, &sResultSetAdd{value: c.local(v)})
			c.rowsRewritten++
			i += 2
			c.forgetConsts(b.Stmts[i-2 : i+1])
			continue
		}
		if value, n := c.fold(b.Stmts, i); n > 0 {
			target := c.local(mutationTargetOrMake(s))
			out.stmts = append(out.stmts, &sConst{value: value, target: target})
			i += n - 1
			c.consts[target] = value
			continue
		}
		if rec, n := c.record(b.Stmts[i:]); n > 0 {
			out.stmts = append(out.stmts, rec)
			c.forgetConsts(b.Stmts[i : i+n])
			i += n - 1
			continue
		}
		if path, n := c.path(b.Stmts[i:]); n > 1 {
			out.stmts = append(out.stmts, path)
			c.forgetConsts(b.Stmts[i : i+n])
			i += n - 1
			continue
		}
		cs, err := c.stmt(s)
		c.forgetConsts(b.Stmts[i : i+1])
		if mo, ok := cs.(*sMakeObject); ok {
			mo.capacity = insertsInto(b.Stmts[i+1:], s.(*ir.MakeObjectStmt).Target)
		}
		if err != nil {
			if _, nested := s.(*ir.BlockStmt); nested {
				return nil, err
			}
			var buf bytes.Buffer
			_ = ir.Pretty(&buf, s)
			first, _, _ := strings.Cut(buf.String(), "\n")
			return nil, fmt.Errorf("%s: %w", first, err)
		}
		out.stmts = append(out.stmts, cs)
	}
	out.ops = make([]opcode, len(out.stmts))
	for i, s := range out.stmts {
		out.ops[i] = opOf(s)
	}
	return out, nil
}

// path fuses the chain of DotStmts with constant keys at the start of
// stmts, each taking the previous target as its source, into one sPath;
// it returns the number of statements fused.
func (c *compiler) path(stmts []ir.Stmt) (*sPath, int) {
	var p *sPath
	var prev ir.Local
	n := 0
	for _, s := range stmts {
		d, ok := s.(*ir.DotStmt)
		if !ok {
			break
		}
		src, ok := d.Source.Value.(ir.Local)
		if !ok || (p != nil && src != prev) {
			break
		}
		key, err := c.operand(d.Key)
		if err != nil || key.c == nil {
			break
		}
		if p == nil {
			p = &sPath{source: c.local(src)}
		}
		p.keys = append(p.keys, key.c)
		p.targets = append(p.targets, c.local(d.Target))
		prev = d.Target
		n++
	}
	if n > 1 && c.paths != nil {
		p.ids = c.pathIDs(p.keys)
		c.prog.npaths = len(c.paths)
	}
	return p, n
}

func (c *compiler) location(l *ir.Location) *ast.Location {
	loc := &ast.Location{Row: l.Row, Col: l.Col}
	if l.File >= 0 && l.File < len(c.prog.files) {
		loc.File = c.prog.files[l.File]
	}
	return loc
}

// numberTerm is an immutable number constant; small integers are OPA's
// interned terms.
func numberTerm(v int64) *ast.Term {
	if v >= -1 && v <= 512 {
		return ast.InternedTerm(int(v))
	}
	return ast.IntNumberTerm(int(v))
}

func (c *compiler) stmt(s ir.Stmt) (stmt, error) {
	var err error
	switch s := s.(type) {
	case *ir.BlockStmt:
		bs, err := c.blocks(s.Blocks)
		return &sBlock{blocks: bs}, err
	case *ir.BreakStmt:
		return &sBreak{index: int(s.Index)}, nil
	case *ir.ScanStmt:
		body, err := c.block(s.Block)
		return &sScan{source: c.local(s.Source), key: c.local(s.Key), value: c.local(s.Value), body: body}, err
	case *ir.NotStmt:
		body, err := c.block(s.Block)
		return &sNot{body: body}, err
	case *ir.WithStmt:
		w := &sWith{local: c.local(s.Local)}
		for _, i := range s.Path {
			if i < 0 || i >= len(c.strings) {
				return nil, fmt.Errorf("%w: with path string %d out of range", ErrUnsupported, i)
			}
			w.path = append(w.path, c.strings[i])
		}
		if w.value, err = c.operand(s.Value); err != nil {
			return nil, err
		}
		w.body, err = c.block(s.Block)
		return w, err
	case *ir.CallStmt:
		return c.call(s)
	case *ir.CallDynamicStmt:
		d := &sCallDynamic{result: c.local(s.Result)}
		for _, a := range s.Args {
			d.args = append(d.args, c.local(a))
		}
		d.path, err = c.operands(s.Path)
		return d, err
	case *ir.DotStmt:
		d := &sDot{target: c.local(s.Target)}
		if d.source, err = c.operand(s.Source); err != nil {
			return nil, err
		}
		d.key, err = c.operand(s.Key)
		return d, err
	case *ir.LenStmt:
		l := &sLen{target: c.local(s.Target)}
		l.source, err = c.operand(s.Source)
		return l, err
	case *ir.EqualStmt:
		e := &sEqual{}
		if e.a, err = c.operand(s.A); err != nil {
			return nil, err
		}
		e.b, err = c.operand(s.B)
		return e, err
	case *ir.NotEqualStmt:
		if l, ok := s.A.Value.(ir.Local); ok {
			if b, ok := s.B.Value.(ir.Bool); ok && !bool(b) {
				return &sNotFalse{source: c.local(l)}, nil
			}
		}
		e := &sNotEqual{}
		if e.a, err = c.operand(s.A); err != nil {
			return nil, err
		}
		e.b, err = c.operand(s.B)
		return e, err
	case *ir.IsArrayStmt:
		o, err := c.operand(s.Source)
		return &sIsArray{source: o}, err
	case *ir.IsObjectStmt:
		o, err := c.operand(s.Source)
		return &sIsObject{source: o}, err
	case *ir.IsSetStmt:
		o, err := c.operand(s.Source)
		return &sIsSet{source: o}, err
	case *ir.IsDefinedStmt:
		return &sIsDefined{source: c.local(s.Source)}, nil
	case *ir.IsUndefinedStmt:
		return &sIsUndefined{source: c.local(s.Source)}, nil
	case *ir.MakeNullStmt:
		return &sMakeNull{target: c.local(s.Target)}, nil
	case *ir.MakeNumberIntStmt:
		return &sConst{value: numberTerm(s.Value), target: c.local(s.Target)}, nil
	case *ir.MakeNumberRefStmt:
		if s.Index < 0 || s.Index >= len(c.p.Static.Strings) {
			return nil, fmt.Errorf("%w: number string %d out of range", ErrUnsupported, s.Index)
		}
		return &sConst{value: ast.NumberTerm(json.Number(c.p.Static.Strings[s.Index].Value)), target: c.local(s.Target)}, nil
	case *ir.MakeArrayStmt:
		return &sMakeArray{capacity: int(s.Capacity), target: c.local(s.Target)}, nil
	case *ir.MakeObjectStmt:
		return &sMakeObject{target: c.local(s.Target)}, nil
	case *ir.MakeSetStmt:
		return &sMakeSet{target: c.local(s.Target)}, nil
	case *ir.AssignIntStmt:
		return &sAssignInt{value: numberTerm(s.Value), target: c.local(s.Target)}, nil
	case *ir.AssignVarStmt:
		a := &sAssignVar{target: c.local(s.Target)}
		a.source, err = c.operand(s.Source)
		return a, err
	case *ir.AssignVarOnceStmt:
		a := &sAssignVarOnce{target: c.local(s.Target), loc: c.location(&s.Location)}
		a.source, err = c.operand(s.Source)
		return a, err
	case *ir.ResetLocalStmt:
		return &sResetLocal{target: c.local(s.Target)}, nil
	case *ir.ReturnLocalStmt:
		return &sReturnLocal{source: c.local(s.Source)}, nil
	case *ir.ResultSetAddStmt:
		return &sResultSetAdd{value: c.local(s.Value)}, nil
	case *ir.NopStmt:
		return &sNop{}, nil
	case *ir.ArrayAppendStmt:
		a := &sArrayAppend{array: c.local(s.Array)}
		a.value, err = c.operand(s.Value)
		return a, err
	case *ir.SetAddStmt:
		a := &sSetAdd{set: c.local(s.Set)}
		a.value, err = c.operand(s.Value)
		return a, err
	case *ir.ObjectInsertStmt:
		o := &sObjectInsert{object: c.local(s.Object)}
		if o.key, err = c.operand(s.Key); err != nil {
			return nil, err
		}
		o.value, err = c.operand(s.Value)
		return o, err
	case *ir.ObjectInsertOnceStmt:
		o := &sObjectInsertOnce{object: c.local(s.Object), loc: c.location(&s.Location)}
		if o.key, err = c.operand(s.Key); err != nil {
			return nil, err
		}
		o.value, err = c.operand(s.Value)
		return o, err
	case *ir.ObjectMergeStmt:
		return &sObjectMerge{a: c.local(s.A), b: c.local(s.B), target: c.local(s.Target)}, nil
	}
	return nil, fmt.Errorf("%w: statement %T", ErrUnsupported, s)
}

func (c *compiler) call(s *ir.CallStmt) (stmt, error) {
	args, err := c.operands(s.Args)
	if err != nil {
		return nil, err
	}
	if fn, ok := c.funcs[s.Func]; ok {
		if len(args) != len(fn.params) && fn.params != nil {
			return nil, fmt.Errorf("%w: %s called with %d args", ErrUnsupported, s.Func, len(args))
		}
		return &sCall{fn: fn, args: args, result: c.local(s.Result)}, nil
	}
	bi, err := c.builtin(s.Func)
	if err != nil {
		return nil, err
	}
	if bi.fast != nil {
		consts := make([]*ast.Term, len(args))
		some := false
		for i, a := range args {
			if consts[i] = a.c; a.c == nil {
				consts[i] = c.consts[a.local]
			}
			some = some || consts[i] != nil
		}
		if f := fastbuiltin.Specialize(s.Func, consts); some && f != nil {
			spec := *bi
			spec.fast, spec.specialized = f, true
			bi = &spec
		}
	}
	return &sCallBuiltin{bi: bi, args: args, result: c.local(s.Result), loc: c.location(&s.Location)}, nil
}

// forgetConsts drops from c.consts every local the statements (or any
// nested in them) write, mutate or reset.
func (c *compiler) forgetConsts(stmts []ir.Stmt) {
	if len(c.consts) == 0 {
		return
	}
	forget := func(l ir.Local) { delete(c.consts, c.local(l)) }
	walkStmts([]*ir.Block{{Stmts: stmts}}, func(s ir.Stmt) {
		writes(s, func(l ir.Local, _ bool) { forget(l) })
		if t, ok := mutationTarget(s); ok {
			forget(t)
		}
		if r, ok := s.(*ir.ResetLocalStmt); ok {
			forget(r.Target)
		}
	})
}

func (c *compiler) builtin(name string) (*builtin, error) {
	if bi, ok := c.builtins[name]; ok {
		return bi, nil
	}
	if unsupportedBuiltins[name] {
		return nil, fmt.Errorf("%w: built-in %s", ErrUnsupported, name)
	}
	decl, ok := c.decls[name]
	if !ok || decl.Decl == nil {
		return nil, fmt.Errorf("%w: call of undeclared function %s", ErrUnsupported, name)
	}
	// The planner calls walk without its output and scans the result: the
	// collection of all of topdown's outputs, in their order.
	bi := &builtin{name: name, void: decl.Decl.Result() == nil, collect: name == "walk"}
	if f := fastbuiltin.Lookup(name); f != nil && !bi.collect {
		bi.fast = f
	} else if f := topdown.GetBuiltin(name); f != nil {
		bi.td = f
	} else {
		return nil, fmt.Errorf("%w: built-in %s has no implementation", ErrUnsupported, name)
	}
	if strings.HasPrefix(name, "time.") || strings.HasPrefix(name, "io.jwt.") {
		c.prog.needTime = true
	}
	c.builtins[name] = bi
	return bi, nil
}

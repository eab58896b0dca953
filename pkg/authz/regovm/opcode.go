package regovm

// opcode is a compiled statement's kind: exec switches on it (a jump
// table) instead of on the statement's dynamic type (a search over ~35
// types per statement).
type opcode uint8

const (
	opInvalid opcode = iota
	opDot
	opPath
	opEqual
	opNotEqual
	opNotFalse
	opAssignVar
	opCall
	opCallBuiltin
	opConst
	opAssignInt
	opIsDefined
	opIsUndefined
	opResetLocal
	opAssignVarOnce
	opReturnLocal
	opBlock
	opBreak
	opScan
	opNot
	opWith
	opIsArray
	opIsObject
	opIsSet
	opLen
	opMakeNull
	opMakeArray
	opMakeObject
	opMakeRecord
	opMakeSet
	opArrayAppend
	opSetAdd
	opObjectInsert
	opObjectInsertOnce
	opObjectMerge
	opResultSetAdd
	opCallDynamic
	opNop
)

// opOf is the opcode of a compiled statement.
func opOf(s stmt) opcode {
	switch s.(type) {
	case *sDot:
		return opDot
	case *sPath:
		return opPath
	case *sEqual:
		return opEqual
	case *sNotEqual:
		return opNotEqual
	case *sNotFalse:
		return opNotFalse
	case *sAssignVar:
		return opAssignVar
	case *sCall:
		return opCall
	case *sCallBuiltin:
		return opCallBuiltin
	case *sConst:
		return opConst
	case *sAssignInt:
		return opAssignInt
	case *sIsDefined:
		return opIsDefined
	case *sIsUndefined:
		return opIsUndefined
	case *sResetLocal:
		return opResetLocal
	case *sAssignVarOnce:
		return opAssignVarOnce
	case *sReturnLocal:
		return opReturnLocal
	case *sBlock:
		return opBlock
	case *sBreak:
		return opBreak
	case *sScan:
		return opScan
	case *sNot:
		return opNot
	case *sWith:
		return opWith
	case *sIsArray:
		return opIsArray
	case *sIsObject:
		return opIsObject
	case *sIsSet:
		return opIsSet
	case *sLen:
		return opLen
	case *sMakeNull:
		return opMakeNull
	case *sMakeArray:
		return opMakeArray
	case *sMakeObject:
		return opMakeObject
	case *sMakeRecord:
		return opMakeRecord
	case *sMakeSet:
		return opMakeSet
	case *sArrayAppend:
		return opArrayAppend
	case *sSetAdd:
		return opSetAdd
	case *sObjectInsert:
		return opObjectInsert
	case *sObjectInsertOnce:
		return opObjectInsertOnce
	case *sObjectMerge:
		return opObjectMerge
	case *sResultSetAdd:
		return opResultSetAdd
	case *sCallDynamic:
		return opCallDynamic
	case *sNop:
		return opNop
	}
	return opInvalid
}

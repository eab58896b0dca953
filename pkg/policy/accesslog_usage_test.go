package policy

import "testing"

// accessLog.usage (usage analytics) is a boolean, misspellings name it.
func TestBadAccessLogUsage(t *testing.T) {
	runBadCases(t, []badCase{
		{"usage not a bool", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  accessLog: {usage: \"yes\"}\n",
			6, "Gateway/g", "spec.accessLog.usage", `expected true or false, got string "yes"`},
		{"usage misspelt", gateway + "    - {name: a, port: 8080, protocol: HTTP}\n  accessLog: {usgae: true}\n",
			6, "Gateway/g", "spec.accessLog.usgae", `unknown field "usgae"; allowed: format, path, usage`},
	})
}

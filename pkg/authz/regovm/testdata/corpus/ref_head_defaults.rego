# Ref-head rules with defaults, boolean ref heads without values, ref
# heads mixing constant and variable segments, and else on ref heads.
package corpus.ref_head_defaults

default cfg.mode := "safe"

cfg.mode := input.mode if input.mode in {"fast", "slow"}

cfg.flags.debug if input.debug

cfg.flags.trace if input.trace == true

default cfg.limits.rps := 10

cfg.limits.rps := input.rps if is_number(input.rps)

cfg.users[u].admin if some u in input.admins

cfg.users[u].tier := "paid" if some u in input.paid

cfg.level := "high" if {
	input.score > 10
} else := "low"

result := cfg

# Time built-ins on fixed inputs: parse_rfc3339_ns, parse_ns, parse_duration_ns,
# date, clock, weekday, add_date, diff, format; invalid inputs (undefined);
# time.now_ns only as a comparison, never as a value.
package corpus.time_builtins

ns := time.parse_rfc3339_ns(input.ts)

out["ns"] := ns

out["date"] := time.date(ns)

out["clock"] := time.clock(ns)

out["weekday"] := time.weekday(ns)

out["add_date"] := time.add_date(ns, 1, -1, 10)

out["diff"] := time.diff(ns, time.parse_rfc3339_ns("2000-01-01T00:00:00Z"))

out["format"] := time.format(ns)

out["format_layout"] := time.format([ns, "UTC", "2006-01-02 15:04"])

out["parse_ns"] := time.parse_ns("2006-01-02", input.day)

out["duration"] := time.parse_duration_ns(input.dur)

out["seconds"] := ns / 1000000000

out["before_now"] := ns < time.now_ns()

out["now_positive"] := time.now_ns() > 0

out["in_window"] := in_window

in_window if {
	now_s := time.now_ns() / 1000000000
	input.nbf <= now_s
	now_s < input.exp
}

out["date_of_number"] := time.date(input.epoch_ns)

out["tz_date"] := time.date([ns, "UTC"])

result := out

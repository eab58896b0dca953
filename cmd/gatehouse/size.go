package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeFlag is a byte count given as a plain integer or with a binary unit
// (KiB, MiB, GiB), for flags such as --max-heap.
type sizeFlag uint64

var sizeUnits = []struct {
	suffix string
	factor uint64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} // largest first; "B" last since every unit ends in it

func (s *sizeFlag) String() string {
	v := uint64(*s)
	for _, u := range sizeUnits {
		if u.factor > 1 && v >= u.factor && v%u.factor == 0 {
			return strconv.FormatUint(v/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatUint(v, 10)
}

func (s *sizeFlag) Set(text string) error {
	num, factor := strings.TrimSpace(text), uint64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 {
		return fmt.Errorf("%q: want a positive number of bytes, optionally with KiB, MiB or GiB", text)
	}
	if n > ^uint64(0)/factor {
		return fmt.Errorf("%q: too large", text)
	}
	*s = sizeFlag(n * factor)
	return nil
}

func (s *sizeFlag) Type() string { return "size" }

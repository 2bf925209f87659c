package sim

import (
	"math/bits"
	"time"
)

// clock is a router's local clock: it reads epoch + floor(g * rate / 1e9)
// at global time g (nanoseconds since the start of the run), so that with
// rate = 1e9 + drift in parts per billion it runs at (1+drift) of global
// time. The integer arithmetic makes local and global exact inverses: the
// timer for a local deadline fires at the first global nanosecond at which
// the local clock has reached it.
type clock struct {
	epoch time.Time
	rate  uint64
}

// local returns the local time at global time g.
func (c clock) local(g int64) time.Time {
	return c.epoch.Add(time.Duration(mulDiv(uint64(g), c.rate, 1e9)))
}

// global returns the earliest global time at which the local clock reads t
// or later: the smallest g with floor(g*rate/1e9) >= t-epoch.
func (c clock) global(t time.Time) int64 {
	d := t.Sub(c.epoch)
	if d <= 0 {
		return 0
	}
	return int64(mulDivCeil(uint64(d), 1e9, c.rate))
}

// mulDiv returns floor(a*b/c) without overflow of a*b; the quotient must
// fit in 64 bits.
func mulDiv(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, _ := bits.Div64(hi, lo, c)
	return q
}

// mulDivCeil returns ceil(a*b/c) without overflow of a*b.
func mulDivCeil(a, b, c uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	q, rem := bits.Div64(hi, lo, c)
	if rem != 0 {
		q++
	}
	return q
}

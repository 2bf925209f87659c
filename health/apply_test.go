package health

import (
	"math"
	"testing"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// applied returns what a result means, through the Router's rule
// (vrrp.TrackState.Effect), for an instance with or without weights.
func applied(ts vrrp.TrackState, weights bool) (int, bool) {
	return ts.Effect(weights)
}

// A check's TrackState, through the Router's rule, is what Track.Effect gives, with
// the weight taken as 0 where weights do not apply (a sync group member):
// the rule as it was applied by the Tracker before it moved to apply.
func TestApplyCheck(t *testing.T) {
	for _, w := range []int{-253, -60, -1, 0, 1, 20, 253} {
		for _, reverse := range []bool{false, true} {
			for _, up := range []bool{false, true} {
				for _, weights := range []bool{false, true} {
					tr := Track{Check: "c", Weight: w, Reverse: reverse}
					old := tr
					if !weights {
						old.Weight = 0
					}
					wantDelta, wantFault := old.Effect(up)
					delta, fault := applied(tr.state("check:c", up), weights)
					if delta != wantDelta || fault != wantFault {
						t.Errorf("weight %d reverse %v up %v weights %v: delta %d fault %v, want %d %v",
							w, reverse, up, weights, delta, fault, wantDelta, wantFault)
					}
				}
			}
		}
	}
}

// A track file's TrackState, through the Router's rule, is what FileEffect gives, with
// the weight taken as 0 where weights do not apply.
func TestApplyFile(t *testing.T) {
	values := []int64{math.MinInt32, -300, -254, -253, -30, -1, 0, 1, 2, 127, 253, 254, 300, math.MaxInt32 + 1}
	for _, v := range values {
		for _, w := range []int{MinFileWeight, -10, -1, 0, 1, 2, 10, MaxFileWeight} {
			for _, reverse := range []bool{false, true} {
				for _, weights := range []bool{false, true} {
					ow := w
					if !weights {
						ow = 0
					}
					wantDelta, wantFault := FileEffect(v, ow, reverse)
					delta, fault := applied(fileState("file:f", v, w, reverse), weights)
					if delta != wantDelta || fault != wantFault {
						t.Errorf("value %d weight %d reverse %v weights %v: delta %d fault %v, want %d %v",
							v, w, reverse, weights, delta, fault, wantDelta, wantFault)
					}
				}
			}
		}
	}
}

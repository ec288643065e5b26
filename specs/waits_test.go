package specs

import (
	"testing"
	"time"
)

// TestFloor checks the floor's arithmetic: one lane waits the sum of the
// designed waits, more lanes never less than the longest wait nor than the
// sum shared out evenly, and never more than that share plus the longest
// wait (the lane dealt the last wait was the least loaded).
func TestFloor(t *testing.T) {
	c := DefaultConfig()
	var total, longest time.Duration
	for _, d := range DesignedWaits(c) {
		total += time.Duration(d.Specs) * d.Each
		longest = max(longest, d.Each)
	}
	if got := Floor(c, 1); got != total {
		t.Errorf("Floor(1) = %v, want the sum %v", got, total)
	}
	for procs := 2; procs <= 16; procs++ {
		f := Floor(c, procs)
		if f < longest || f < total/time.Duration(procs) {
			t.Errorf("Floor(%d) = %v, below the longest wait %v or the even share %v", procs, f, longest, total/time.Duration(procs))
		}
		if f > total/time.Duration(procs)+longest {
			t.Errorf("Floor(%d) = %v, above the even share %v plus the longest wait %v", procs, f, total/time.Duration(procs), longest)
		}
	}
	if got, want := Bound(time.Second), 1300*time.Millisecond; got != want {
		t.Errorf("Bound(1s) = %v, want %v", got, want)
	}
}

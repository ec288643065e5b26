package execadapter

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// fakeCPUWait is an injectable CPU-wait reader: each read returns the next
// of its values (the last one once they run out) and counts the reads.
type fakeCPUWait struct {
	mu     sync.Mutex
	values []time.Duration
	reads  int
}

func (f *fakeCPUWait) reader(int) func() time.Duration {
	return func() time.Duration {
		f.mu.Lock()
		defer f.mu.Unlock()
		v := f.values[min(f.reads, len(f.values)-1)]
		f.reads++
		return v
	}
}

// fakeWaitClient is a client for template whose CPU wait is f's.
func fakeWaitClient(t *testing.T, template string, f *fakeCPUWait) *Client {
	t.Helper()
	c, err := newClient(ClientConfig{Command: template})
	if err != nil {
		t.Fatal(err)
	}
	c.cpuWait = f.reader
	return c
}

func TestClientKillDeadlineNetOfCPUWait(t *testing.T) {
	t.Parallel()
	// A program that hangs, on a machine where it waited 600 ms and then
	// 400 ms more for a CPU: it is killed a second later than without
	// the wait, and the error says how much wait was allowed for.
	f := &fakeCPUWait{values: []time.Duration{600 * time.Millisecond, time.Second, time.Second}}
	c := fakeWaitClient(t, "/bin/sh -c 'sleep 1000' sh {addr} {timeout_ms}", f)
	start := time.Now()
	resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: "127.0.0.1:1", TimeoutMs: 100})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_TIMEOUT || !strings.Contains(resp.GetError(), "was killed") ||
		!strings.Contains(resp.GetError(), "not counting the 1s it waited for a CPU") {
		t.Errorf("response = %v", resp)
	}
	if min := 100*time.Millisecond + ClientKillGrace + time.Second; took < min {
		t.Errorf("killed after %v, before %v (timeout + grace + CPU wait)", took, min)
	}
	if f.reads != 3 {
		t.Errorf("the CPU wait was read %d times, want 3 (two extensions, then none)", f.reads)
	}
}

func TestClientHonouringLateForCPUWaitIsNotKilled(t *testing.T) {
	t.Parallel()
	// The program gives up by itself 1.5 s after its 100 ms timeout plus
	// the grace, having waited 5 s for a CPU: it is judged by its words.
	// (Killed it would be only 5 s after the grace: a margin that a
	// loaded machine's delay in starting sh and sleep cannot use up.)
	f := &fakeCPUWait{values: []time.Duration{5 * time.Second}}
	c := fakeWaitClient(t, `/bin/sh -c 'sleep 3.6; echo "socket.timeout: timed out" >&2; exit 1' sh {addr} {timeout_ms}`, f)
	resp, err := c.Greet(context.Background(), &contract.GreetRequest{Address: "127.0.0.1:1", TimeoutMs: 100})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetErrorClass() != contract.ErrorClass_ERROR_CLASS_TIMEOUT || strings.Contains(resp.GetError(), "killed") {
		t.Errorf("response = %v", resp)
	}
}

func TestClientCPUWaitCreditIsBounded(t *testing.T) {
	t.Parallel()
	// A program whose CPU wait grows without end is still killed, at the
	// latest callMargin before the Greet call's deadline.
	var values []time.Duration
	for i := 1; i <= 100; i++ {
		values = append(values, time.Duration(i)*time.Second)
	}
	f := &fakeCPUWait{values: values}
	c := fakeWaitClient(t, "/bin/sh -c 'sleep 1000' sh {addr} {timeout_ms}", f)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond+ClientKillGrace+callMargin+time.Second)
	defer cancel()
	start := time.Now()
	resp, err := c.Greet(ctx, &contract.GreetRequest{Address: "127.0.0.1:1", TimeoutMs: 100})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Greet = %v after %v; the program must be killed before the call's deadline", err, took)
	}
	if !strings.Contains(resp.GetError(), "was killed") {
		t.Errorf("response = %v", resp)
	}
}

func TestGroupCPUWaitReadsThisProcess(t *testing.T) {
	t.Parallel()
	// On Linux the reader finds this test's own process group and its
	// wait never goes down; elsewhere it reads 0.
	r := groupCPUWait(pgrp())
	a := r()
	for i := 0; i < 1e6; i++ {
		_ = i * i
	}
	if b := r(); b < a || a < 0 {
		t.Errorf("CPU wait went from %v to %v", a, b)
	}
}

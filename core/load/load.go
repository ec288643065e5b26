// Package load is greetspec's load generator: it greets a server over many
// connections at once and measures greetings per second and latency, and
// classifies every failed exchange. It drives `greetspec bench` and the
// throughput benchmarks. Every loop is bounded in time and count.
package load

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// ErrorClass names how an exchange failed.
type ErrorClass string

// Error classes of an exchange.
const (
	Refused        ErrorClass = "refused"
	Reset          ErrorClass = "reset"
	Timeout        ErrorClass = "timeout"
	WrongReply     ErrorClass = "wrong-reply"
	PortsExhausted ErrorClass = "ports-exhausted"
	Other          ErrorClass = "other"
)

// Config is one measurement.
type Config struct {
	// Addr is the server, host:port.
	Addr string
	// Concurrency is how many clients greet at once (at least 1).
	Concurrency int
	// Duration bounds the measurement.
	Duration time.Duration
	// MaxExchanges bounds it too (0: no bound but Duration).
	MaxExchanges int
	// Name is what each client sends.
	Name []byte
	// Timeout bounds one exchange.
	Timeout time.Duration
	// Idle and Slowloris are connections held open during the measurement:
	// idle ones send nothing, slowloris ones send one byte at a time, each
	// just before the server's idle timeout would end their name (every
	// SlowInterval).
	Idle, Slowloris int
	// SlowInterval is the pause between a slowloris connection's bytes.
	SlowInterval time.Duration
	// Progress, if set, is called about every 250 ms with the exchanges so
	// far.
	Progress func(done int64, elapsed time.Duration)
}

// Result is what a measurement found.
type Result struct {
	Concurrency int                `json:"concurrency"`
	Exchanges   int64              `json:"exchanges"`
	OK          int64              `json:"ok"`
	Errors      map[ErrorClass]int `json:"errors,omitempty"`
	Elapsed     time.Duration      `json:"elapsed_ns"`
	PerSecond   float64            `json:"greetings_per_second"`
	P50         time.Duration      `json:"p50_ns"`
	P90         time.Duration      `json:"p90_ns"`
	P99         time.Duration      `json:"p99_ns"`
	Max         time.Duration      `json:"max_ns"`
	// Background says how many idle and slowloris connections were held.
	Background int `json:"background_connections,omitempty"`
	// Rounds is how many measurements were merged into this one (see
	// Merge); 0 or 1 for one.
	Rounds int `json:"rounds,omitempty"`
	// ServerCPU is the CPU time the server's processes used during the
	// measurement, when the caller could measure it (0: not measured), and
	// ServerCPUPerGreeting that time per successful greeting. Unlike the
	// rate, it hardly depends on what else the machine runs.
	ServerCPU            time.Duration `json:"server_cpu_ns,omitempty"`
	ServerCPUPerGreeting time.Duration `json:"server_cpu_per_greeting_ns,omitempty"`

	lat []time.Duration // sorted latencies of the successful exchanges
}

// Merge combines measurements of one server at one concurrency taken in
// several rounds (alternating with another server's, so that both see the
// same machine load) into one: counts and times add up, the percentiles are
// those of all the exchanges together.
func Merge(rs ...Result) Result {
	var m Result
	for i, r := range rs {
		if i == 0 {
			m.Concurrency = r.Concurrency
		}
		m.Exchanges += r.Exchanges
		m.OK += r.OK
		m.Elapsed += r.Elapsed
		for c, n := range r.Errors {
			if m.Errors == nil {
				m.Errors = map[ErrorClass]int{}
			}
			m.Errors[c] += n
		}
		m.Background = max(m.Background, r.Background)
		m.ServerCPU += r.ServerCPU
		m.lat = append(m.lat, r.lat...)
		m.Rounds += max(r.Rounds, 1)
	}
	m.summarise()
	return m
}

// summarise sets the rate and the percentiles from the counts and lat.
func (r *Result) summarise() {
	r.PerSecond, r.ServerCPUPerGreeting = 0, 0
	if r.OK > 0 {
		r.ServerCPUPerGreeting = r.ServerCPU / time.Duration(r.OK)
	}
	if r.Elapsed > 0 {
		r.PerSecond = float64(r.OK) / r.Elapsed.Seconds()
	}
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	r.P50, r.P90, r.P99, r.Max = 0, 0, 0, 0
	if n := len(r.lat); n > 0 {
		r.P50, r.P90, r.P99, r.Max = r.lat[n*50/100], r.lat[n*90/100], r.lat[n*99/100], r.lat[n-1]
	}
}

// Run measures cfg. It returns when Duration has passed or MaxExchanges
// exchanges were made, whichever comes first, and always within Duration
// plus one exchange Timeout.
func Run(ctx context.Context, cfg Config) Result {
	if cfg.Concurrency < 1 {
		cfg.Concurrency = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	bg := holdBackground(ctx, cfg)
	defer bg.close()

	var (
		started  atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		errs     = map[ErrorClass]int{}
		ok, done atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	stopProgress := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					cfg.Progress(done.Load(), time.Since(start))
				case <-stopProgress:
					return
				}
			}
		}()
	}
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				if cfg.MaxExchanges > 0 && started.Add(1) > int64(cfg.MaxExchanges) {
					return
				}
				t0 := time.Now()
				class := Exchange(cfg.Addr, cfg.Name, cfg.Timeout)
				d := time.Since(t0)
				done.Add(1)
				if class == "" {
					ok.Add(1)
					mine = append(mine, d)
					continue
				}
				mu.Lock()
				errs[class]++
				mu.Unlock()
				if class == PortsExhausted {
					// Give TIME_WAIT a moment instead of spinning.
					select {
					case <-ctx.Done():
					case <-time.After(10 * time.Millisecond):
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stopProgress)
	r := Result{Concurrency: cfg.Concurrency, Exchanges: done.Load(), OK: ok.Load(), Elapsed: time.Since(start), Background: bg.count()}
	if len(errs) > 0 {
		r.Errors = errs
	}
	r.lat = lat
	r.summarise()
	return r
}

// Exchange greets addr once with name: connect, send, half-close, read to
// end of stream, check the greeting. It returns "" on success, else how it
// failed.
func Exchange(addr string, name []byte, timeout time.Duration) ErrorClass {
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return classify(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	if _, err := conn.Write(name); err != nil {
		return classify(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return classify(err)
		}
	}
	reply, err := io.ReadAll(io.LimitReader(conn, contract.MaxNameBytes+1))
	if err != nil {
		return classify(err)
	}
	if !bytes.Equal(reply, []byte(contract.Greeting)) {
		return WrongReply
	}
	return ""
}

// classify maps a network error to its class.
func classify(err error) ErrorClass {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENOTCONN): // ENOTCONN: a half-close after the peer's reset
		return Reset
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return PortsExhausted
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return Timeout
	}
	return Other
}

// background holds idle and slowloris connections open.
type background struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	held   atomic.Int64
	peak   atomic.Int64
}

func holdBackground(ctx context.Context, cfg Config) *background {
	ctx, cancel := context.WithCancel(ctx)
	b := &background{cancel: cancel}
	interval := cfg.SlowInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	hold := func(slow bool) {
		defer b.wg.Done()
		for ctx.Err() == nil {
			conn, err := (&net.Dialer{Timeout: cfg.Timeout}).DialContext(ctx, "tcp", cfg.Addr)
			if err != nil {
				return
			}
			if n := b.held.Add(1); n > b.peak.Load() {
				b.peak.Store(n) // racy max, good enough for a report
			}
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			sent := 0
			for ctx.Err() == nil && sent < contract.MaxNameBytes-1 {
				if !slow {
					_ = conn.SetReadDeadline(time.Time{})
					var one [1]byte
					if _, err := conn.Read(one[:]); err != nil { // the server closed it (idle timeout): reconnect
						break
					}
					continue
				}
				select {
				case <-ctx.Done():
				case <-time.After(interval):
					if _, err := conn.Write([]byte{'s'}); err != nil {
						sent = contract.MaxNameBytes
					}
					sent++
				}
			}
			stop()
			conn.Close()
			b.held.Add(-1)
		}
	}
	for range cfg.Idle {
		b.wg.Add(1)
		go hold(false)
	}
	for range cfg.Slowloris {
		b.wg.Add(1)
		go hold(true)
	}
	return b
}

// count returns the most background connections held at once.
func (b *background) count() int { return int(b.peak.Load()) }

func (b *background) close() {
	b.cancel()
	b.wg.Wait()
}

package hostile

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/greetspec/greetspec/core/contract"
)

// Environment of the forking plugins.
const (
	// EnvReport names a file to which ForkDaemon appends one line per
	// process it leaves behind: "child PID" and "daemon PID PORT".
	EnvReport = "GREETSPEC_HOSTILE_REPORT"
	// EnvSlowStart, a duration, makes ForkDaemon's Start wait that long
	// (or until the host gives up) before serving.
	EnvSlowStart = "GREETSPEC_HOSTILE_SLOW_START"
	// envRole is how a re-executed ForkDaemon helper knows what to be.
	envRole = "GREETSPEC_HOSTILE_ROLE"
)

// ForkDaemon is a server that leaves processes behind, the way careless
// programs do: when the plugin starts it forks a child that sleeps, and a
// double-forked daemon (a new session, its parent gone) that listens on a
// TCP port of 127.0.0.1. Otherwise it is the embedded server. The host must
// kill all of them however greetspec ends.
type ForkDaemon struct{ contract.Server }

// NewForkDaemon forks the processes (re-executing the running binary with
// the same built-in plugin selected) and returns the plugin's server. In a
// re-executed helper it plays the helper's part and never returns.
func NewForkDaemon(inner contract.Server) (*ForkDaemon, error) {
	switch os.Getenv(envRole) {
	case "child":
		select {}
	case "daemon-parent":
		// The middle of the double fork: start the daemon, wait until
		// it listens, and go.
		if err := spawn("daemon", true); err != nil {
			os.Exit(ExitCode)
		}
		os.Exit(0)
	case "daemon":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			os.Exit(ExitCode)
		}
		report(fmt.Sprintf("daemon %d %d", os.Getpid(), ln.Addr().(*net.TCPAddr).Port))
		// Tell the middle process it is up (fd 3 is the pipe to it).
		if ready := os.NewFile(3, "ready"); ready != nil {
			_ = ready.Close()
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(ExitCode)
			}
			_ = c.Close()
		}
	}
	if err := spawn("child", false); err != nil {
		return nil, err
	}
	if err := spawn("daemon-parent", false); err != nil {
		return nil, err
	}
	return &ForkDaemon{Server: inner}, nil
}

// Start waits EnvSlowStart, if set, then starts the embedded server.
func (f *ForkDaemon) Start(ctx context.Context, req *contract.StartRequest, events func(*contract.ConnectionEvent)) (*contract.StartResponse, error) {
	if d, err := time.ParseDuration(os.Getenv(EnvSlowStart)); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.Server.Start(ctx, req, events)
}

// spawn re-executes the running binary as the helper role; the process is
// not waited for. A child in a new session is detached from the plugin's
// process group, as a daemon is.
func spawn(role string, newSession bool) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), envRole+"="+role)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: newSession}
	var ready *os.File
	if role == "daemon" {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		cmd.ExtraFiles = []*os.File{w}
		ready = r
		defer w.Close()
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	switch role {
	case "child":
		report(fmt.Sprintf("child %d", cmd.Process.Pid))
	case "daemon":
		cmd.ExtraFiles[0].Close()
		// Wait until the daemon listens (it closes its end), bounded.
		_ = ready.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, _ = ready.Read(make([]byte, 1))
	case "daemon-parent":
		// The middle process exits once its daemon listens; reaping it
		// makes the daemon an orphan.
		return cmd.Wait()
	}
	return nil
}

func report(line string) {
	path := os.Getenv(EnvReport)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, line)
}

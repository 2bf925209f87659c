package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vrrpkit/vrrpkit/health"
	"github.com/vrrpkit/vrrpkit/internal/nsthread"
)

// fifoMode is the mode of a FIFO vrrpd creates: keepalived 2.2.7 asks
// mkfifo for 0644 under its umask of 077, which leaves 0600.
const fifoMode = 0o600

// fifoScriptKillDelay is how long a FIFO script has after SIGTERM before
// SIGKILL, as keepalived kills its children a second after SIGTERM.
const fifoScriptKillDelay = time.Second

// FIFOConfig is a notify FIFO: keepalived's notify_fifo or
// vrrp_notify_fifo, with its script.
type FIFOConfig struct {
	// Kind is the keyword, for logs: "notify_fifo" or "vrrp_notify_fifo".
	Kind string
	// Path is the FIFO; it is created when missing.
	Path string
	// User and Group own a FIFO vrrpd creates ("" for vrrpd's own).
	User, Group string
	// Script, if set, is started once the FIFO exists, with the FIFO's
	// path appended as its last argument, and stopped when vrrpd exits.
	Script *health.Script
}

// fifosKey returns a string that tells FIFO configurations apart.
func fifosKey(cfgs []FIFOConfig) string {
	var b strings.Builder
	for _, c := range cfgs {
		fmt.Fprintf(&b, "%s %q %q %q;", c.Kind, c.Path, c.User, c.Group)
		if s := c.Script; s != nil {
			fmt.Fprintf(&b, " %q %q %q %q %v;", s.Path, s.Args, s.User, s.Group, s.Security)
		}
	}
	return b.String()
}

// fifoLine returns the line keepalived 2.2.7 writes to its notify FIFOs
// for a state change: TYPE "NAME" STATE PRIORITY, priority 0 for a group.
func fifoLine(note notification) []byte {
	return []byte(note.kind + " \"" + note.name + "\" " + note.state + " " + strconv.Itoa(note.priority) + "\n")
}

// notifyFIFO is an open notify FIFO. Its descriptor is non-blocking and
// open for reading and writing, as keepalived's: a write never waits for a
// reader, and a FIFO nobody reads neither blocks nor fails to open; once
// the pipe is full, lines are dropped.
type notifyFIFO struct {
	cfg     FIFOConfig
	fd      int
	created bool
	// stop ends the script; done is closed once it has exited.
	stop context.CancelFunc
	done chan struct{}
}

// fifos are the open notify FIFOs of a daemon. write and close may be
// called from any goroutine.
type fifos struct {
	log  *slog.Logger
	mu   sync.Mutex
	open []*notifyFIFO
}

// openFIFOs opens the FIFOs of cfgs as keepalived does: each is created
// when missing (mode 0600, owned by its user and group), its script is
// started, then it is opened. A FIFO that cannot be created or opened is
// left out with an error in the log, as keepalived leaves it out; scripts
// run in the network namespace ns when it is open, as notify scripts do.
func openFIFOs(log *slog.Logger, cfgs []FIFOConfig, ns netns.NsHandle) *fifos {
	f := &fifos{log: log}
	for _, c := range cfgs {
		if nf := openFIFO(log, c, ns); nf != nil {
			f.open = append(f.open, nf)
		}
	}
	return f
}

func openFIFO(log *slog.Logger, c FIFOConfig, ns netns.NsHandle) *notifyFIFO {
	uid, gid, err := fifoOwner(c.User, c.Group)
	if err != nil {
		log.Error(fmt.Sprintf("Invalid user/group for %s %s - ignoring", c.Kind, c.Path), "err", err)
		return nil
	}
	nf := &notifyFIFO{cfg: c, fd: -1}
	switch err := unix.Mkfifo(c.Path, fifoMode); {
	case err == nil:
		nf.created = true
		if (uid >= 0 || gid >= 0) && unix.Chown(c.Path, uid, gid) != nil {
			log.Warn(fmt.Sprintf("Failed to set uid:gid for fifo %s", c.Path))
		}
	case errors.Is(err, unix.EEXIST):
	default:
		log.Error(fmt.Sprintf("Unable to create %s %s", c.Kind, c.Path), "err", err)
		return nil
	}
	if c.Script != nil {
		nf.startScript(log, ns)
	}
	fd, err := unix.Open(c.Path, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOFOLLOW, 0)
	if err == nil {
		var st unix.Stat_t
		if err = unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT != unix.S_IFIFO {
			err = fmt.Errorf("%s is not a FIFO", c.Path)
		}
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		log.Error(fmt.Sprintf("Unable to open %s %s", c.Kind, c.Path), "err", err)
		if nf.created {
			_ = os.Remove(c.Path)
			nf.created = false
		}
		nf.stopScript()
		return nil
	}
	nf.fd = fd
	log.Info(fmt.Sprintf("Opened %s %s", c.Kind, c.Path), "created", nf.created)
	return nf
}

// fifoOwner returns the uid and gid to give a created FIFO, -1 for
// vrrpd's own.
func fifoOwner(userName, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			return 0, 0, err
		}
		uid, _ = strconv.Atoi(u.Uid)
		if group == "" {
			gid, _ = strconv.Atoi(u.Gid)
		}
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			return 0, 0, err
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if uid == os.Geteuid() {
		uid = -1
	}
	if gid == os.Getegid() {
		gid = -1
	}
	return uid, gid, nil
}

// startScript runs the FIFO's script, with the FIFO's path as its last
// argument, until stopScript (or until it exits by itself).
func (nf *notifyFIFO) startScript(log *slog.Logger, ns netns.NsHandle) {
	s := *nf.cfg.Script
	s.Args = append(append([]string(nil), s.Args...), nf.cfg.Path)
	s.KillDelay = fifoScriptKillDelay
	ctx, cancel := context.WithCancel(context.Background())
	nf.stop, nf.done = cancel, make(chan struct{})
	go func() {
		defer close(nf.done)
		err := nsthread.Do(ns, func() error { return s.Check(ctx) })
		switch {
		case ctx.Err() != nil:
			log.Debug(fmt.Sprintf("%s script stopped", nf.cfg.Kind), "script", s.String())
		case err != nil:
			log.Warn(fmt.Sprintf("%s script ended", nf.cfg.Kind), "script", s.String(), "err", err)
		default:
			log.Info(fmt.Sprintf("%s script exited", nf.cfg.Kind), "script", s.String())
		}
	}()
}

// stopScript sends the script SIGTERM (SIGKILL a second later) and waits
// for it.
func (nf *notifyFIFO) stopScript() {
	if nf.stop == nil {
		return
	}
	nf.stop()
	<-nf.done
}

// write writes line to every FIFO, never waiting: a line that does not fit
// in a FIFO nobody reads is dropped, as keepalived drops it.
func (f *fifos) write(line []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, nf := range f.open {
		if nf.fd < 0 {
			continue
		}
		if _, err := unix.Write(nf.fd, line); err != nil {
			f.log.Debug(fmt.Sprintf("%s %s: line dropped", nf.cfg.Kind, nf.cfg.Path), "err", err)
		}
	}
}

// close closes the FIFOs, removing those vrrpd created first (so that a
// script that reopens its FIFO cannot reopen this one), then stops their
// scripts. The scripts get SIGTERM after the last lines (STOP), where
// keepalived 2.2.7 sends it before them.
func (f *fifos) close() {
	f.mu.Lock()
	open := f.open
	f.open = nil
	f.mu.Unlock()
	for _, nf := range open {
		if nf.created {
			_ = os.Remove(nf.cfg.Path)
		}
		if nf.fd >= 0 {
			_ = unix.Close(nf.fd)
			nf.fd = -1
		}
	}
	for _, nf := range open {
		nf.stopScript()
	}
}

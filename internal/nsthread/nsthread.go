// Package nsthread runs code inside a network namespace: on a goroutine of
// its own, locked to its OS thread, switched into the namespace and back.
// Sockets opened there belong to the namespace for their whole life; no
// other goroutine ever runs on the switched thread.
package nsthread

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netns"
)

// Open opens the network namespace at path; an empty path gives a closed
// handle, which Do takes to mean the current namespace.
func Open(path string) (netns.NsHandle, error) {
	if path == "" {
		return netns.None(), nil
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return netns.None(), Wrap(fmt.Sprintf("open network namespace %s", path), err)
	}
	return ns, nil
}

// Wrap wraps err from entering or opening a namespace, adding the
// privilege it takes when the cause is a permission error.
func Wrap(what string, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%s: %w (network namespaces need root or CAP_SYS_ADMIN)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Do runs fn with its thread in ns and returns fn's error. A closed ns
// runs fn on the calling goroutine. A panic in fn is raised again in the
// caller. If the thread cannot return to its own namespace, its goroutine
// ends still locked, and the Go runtime ends the thread with it.
func Do(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
	type result struct {
		err      error
		panicked bool
		value    any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("current network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			if netns.Set(orig) == nil {
				runtime.UnlockOSThread()
			}
			done <- result{err: Wrap("enter network namespace", err)}
			return
		}
		var r result
		func() {
			defer func() {
				if v := recover(); v != nil {
					r.panicked, r.value = true, v
				}
			}()
			r.err = fn()
		}()
		if err := netns.Set(orig); err != nil {
			r.err = errors.Join(r.err, fmt.Errorf("return from network namespace: %w", err))
			done <- r
			return
		}
		runtime.UnlockOSThread()
		done <- r
	}()
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// DoPath is Do for the namespace at path ("" = the current one).
func DoPath(path string, fn func() error) error {
	ns, err := Open(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	return Do(ns, fn)
}

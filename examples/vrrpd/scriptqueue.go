package main

import "sync"

// scriptQueue runs jobs one at a time, in the order they were pushed, on a
// goroutine of its own: a slow script delays the scripts queued after it,
// never the caller (the protocol, or a pool's checks). The notify scripts
// of instances and sync groups and the LVS notify and quorum scripts each
// run through one.
type scriptQueue struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

// newScriptQueue returns a running queue; close stops it.
func newScriptQueue() *scriptQueue {
	q := &scriptQueue{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

// push queues job; after close it drops it.
func (q *scriptQueue) push(job func()) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.queue = append(q.queue, job)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *scriptQueue) run() {
	defer close(q.done)
	for {
		q.mu.Lock()
		batch, closed := q.queue, q.closed
		q.queue = nil
		q.mu.Unlock()
		for _, job := range batch {
			job()
		}
		if len(batch) == 0 {
			if closed {
				return
			}
			<-q.wake
		}
	}
}

// close runs what is queued, then ends the goroutine and waits for it.
func (q *scriptQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}

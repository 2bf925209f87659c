// Package newuser is a separate module that uses vrrpkit as a new user
// would, through its public API only (a replace to this checkout): a
// service whose work follows mastership and a custom health check moving
// mastership, each tested with the fakes in a few lines. .ci/run tests it.
package newuser

import (
	"context"
	"sync"
)

// Service does its work only while its node is Master: OnMaster is its
// Router callback.
type Service struct {
	mu      sync.Mutex
	serving bool
	runs    int
}

// OnMaster serves until ctx ends.
func (s *Service) OnMaster(ctx context.Context, _ string) {
	s.set(true)
	<-ctx.Done()
	s.set(false)
}

func (s *Service) set(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serving = on
	if on {
		s.runs++
	}
}

// Serving reports whether the service serves, and how many times it began.
func (s *Service) Serving() (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serving, s.runs
}

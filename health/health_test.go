package health_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vrrpkit/vrrpkit/health"
)

// A Checker written as a function.
func ExampleCheckerFunc() {
	var down bool
	var c health.Checker = health.CheckerFunc(func(ctx context.Context) error {
		if down {
			return errors.New("service is down")
		}
		return nil
	})
	fmt.Println(c.Check(context.Background()))
	down = true
	fmt.Println(c.Check(context.Background()))
	// Output:
	// <nil>
	// service is down
}

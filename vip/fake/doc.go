// Package fake provides a Binder that records virtual addresses in memory
// instead of configuring interfaces, for unit tests of code that uses a
// vrrp.Binder.
package fake

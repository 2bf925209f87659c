// Package vip holds the binders that add and remove a virtual router's
// addresses through the vrrp.Binder interface. Subpackage fake records them
// in memory for tests.
package vip

// Package transport holds the VRRP packet transports a vrrp.Router uses
// through its vrrp.Transport interface. Subpackage fake is an in-memory
// segment for tests and simulations.
package transport

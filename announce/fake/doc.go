// Package fake provides an Announcer that records announcements in memory
// instead of sending gratuitous ARP or neighbour advertisements, for unit
// tests of code that uses a vrrp.Announcer.
package fake

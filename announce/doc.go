// Package announce holds the announcers that tell a link a virtual router
// moved (gratuitous ARP, unsolicited neighbour advertisements) through the
// vrrp.Announcer interface. Subpackage fake records them for tests.
package announce

module github.com/vrrpkit/vrrpkit

go 1.25.0

require (
	github.com/gopacket/gopacket v1.7.7
	golang.org/x/net v0.55.0
)

require golang.org/x/sys v0.45.0 // indirect

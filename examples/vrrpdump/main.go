// Command vrrpdump prints VRRP advertisements (RFC 3768 VRRPv2, RFC 5798
// VRRPv3) read from a capture file or received live on an interface, decoded
// with the vrrpkit vrrp package.
//
// Usage:
//
//	vrrpdump -r FILE [-json]
//	vrrpdump -i IFACE [-4 | -6] [-json]
//
// -r reads a pcap or pcapng file (Ethernet, 802.1Q, Linux cooked, loopback
// or raw IP link types); frames that are not VRRP are skipped. -i opens raw
// IP sockets for protocol 112 on IPv4 and IPv6, joins 224.0.0.18 and
// ff02::12 on the interface and prints what arrives there until interrupted;
// it needs root (or CAP_NET_RAW).
//
// Each VRRP packet gives one line, in a format close to tcpdump's:
//
//	10.0.0.91 > 224.0.0.18: VRRPv2, Advertisement, ttl 255, vrid 42, prio 191, authtype simple, intvl 10s, length 28, addrs(3): 10.4.42.1,10.4.42.2,10.4.42.3 auth "abcdefgh", checksum ok
//
// or, with -json, one JSON object with the keys src, dst, ttl (the hop limit
// for IPv6), version, type, vrid, priority, count, interval_ms, addresses,
// auth_type and auth (VRRPv2 only; auth only for the simple text password)
// and checksum. checksum is "ok" for the RFC form, "group" for a VRRPv3
// pseudo-header built with the multicast group although the packet was sent
// unicast, "nopseudo" for a VRRPv3 IPv4 checksum over the message alone and
// "bad" otherwise. A packet or frame that cannot be decoded gives
// {"error": "reason"} (or "error: reason" in the text format). The IPv4
// header checksum is not checked.
//
// Errors that stop the program (bad flags, unreadable file, sockets) go to
// standard error with a non-zero exit status.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program: it parses args, dumps to stdout and reports
// fatal errors to stderr. It returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vrrpdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("r", "", "read packets from the pcap or pcapng `file`")
	iface := fs.String("i", "", "capture live on `interface` (needs root or CAP_NET_RAW)")
	jsonOut := fs.Bool("json", false, "print one JSON object per packet")
	only4 := fs.Bool("4", false, "with -i, capture IPv4 only")
	only6 := fs.Bool("6", false, "with -i, capture IPv6 only")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: vrrpdump (-r FILE | -i IFACE [-4 | -6]) [-json]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var usageErr string
	switch {
	case fs.NArg() > 0:
		usageErr = fmt.Sprintf("unexpected arguments %q", fs.Args())
	case (*file == "") == (*iface == ""):
		usageErr = "give exactly one of -r FILE and -i IFACE"
	case *file != "" && (*only4 || *only6):
		usageErr = "-4 and -6 go with -i"
	case *only4 && *only6:
		usageErr = "-4 and -6 exclude each other"
	}
	if usageErr != "" {
		fmt.Fprintf(stderr, "vrrpdump: %s\n", usageErr)
		fs.Usage()
		return 2
	}

	out := bufio.NewWriter(stdout)
	p := &printer{w: out, json: *jsonOut}
	var err error
	if *file != "" {
		err = dumpFile(*file, p.print)
	} else {
		// Live output is flushed line by line so that it shows at once.
		p.flush = out.Flush
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		fams := []vrrp.Family{vrrp.IPv4, vrrp.IPv6}
		if *only4 {
			fams = fams[:1]
		} else if *only6 {
			fams = fams[1:]
		}
		err = capture(ctx, *iface, fams, p.print)
	}
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing output: %w", ferr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vrrpdump: %v\n", err)
		return 1
	}
	return 0
}

// record is one decoded VRRP packet. Its JSON form has exactly the keys of
// the -json output; the unexported fields serve the text format.
type record struct {
	Src        netip.Addr   `json:"src"`
	Dst        netip.Addr   `json:"dst"`
	TTL        uint8        `json:"ttl"`
	Version    uint8        `json:"version"`
	Type       uint8        `json:"type"`
	VRID       uint8        `json:"vrid"`
	Priority   uint8        `json:"priority"`
	Count      int          `json:"count"`
	IntervalMS int64        `json:"interval_ms"`
	Addresses  []netip.Addr `json:"addresses"`
	AuthType   *uint8       `json:"auth_type,omitempty"`
	Auth       *string      `json:"auth,omitempty"`
	Checksum   string       `json:"checksum"`

	interval uint16 // the wire field: seconds (v2) or centiseconds (v3)
	length   int    // of the VRRP message
}

// errorRecord is the JSON form of a packet that cannot be decoded.
type errorRecord struct {
	Error string `json:"error"`
}

// emitFunc receives each VRRP packet, or the error that kept a VRRP packet
// or a frame from being decoded. An error it returns stops the dump.
type emitFunc func(rec *record, err error) error

// errNotVRRP reports a frame that holds no VRRP packet; it is skipped.
var errNotVRRP = errors.New("not a VRRP packet")

// decodeVRRP decodes the VRRP message msg of an IPv4 or IPv6 packet from
// src to dst with the given TTL or hop limit. adv is reused between calls.
func decodeVRRP(adv *vrrp.Advertisement, msg []byte, ipv6 bool, src, dst netip.Addr, ttl uint8) (*record, error) {
	src, dst = src.WithZone(""), dst.WithZone("")
	if err := adv.Unmarshal(msg, ipv6); err != nil {
		return nil, fmt.Errorf("%v > %v: %w", src, dst, err)
	}
	group := vrrp.Group4
	if ipv6 {
		group = vrrp.Group6
	}
	rec := &record{
		Src:        src,
		Dst:        dst,
		TTL:        ttl,
		Version:    adv.Version,
		Type:       adv.Type,
		VRID:       adv.VRID,
		Priority:   adv.Priority,
		Count:      len(adv.Addresses),
		IntervalMS: adv.IntervalDuration().Milliseconds(),
		Addresses:  append([]netip.Addr(nil), adv.Addresses...),
		Checksum:   vrrp.VerifyChecksum(msg, src, dst, group).String(),
		interval:   adv.Interval,
		length:     len(msg),
	}
	if rec.Addresses == nil {
		rec.Addresses = []netip.Addr{} // [] rather than null in JSON
	}
	if adv.Version == 2 {
		at := adv.AuthType
		rec.AuthType = &at
		if at == vrrp.AuthPass {
			pass := adv.Password()
			rec.Auth = &pass
		}
	}
	return rec, nil
}

// frameDecoder finds the IP packet in link-layer frames and decodes its VRRP
// payload. It keeps its layers between frames.
type frameDecoder struct {
	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	ip4     layers.IPv4
	ip6     layers.IPv6
	parsers map[gopacket.LayerType]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	adv     vrrp.Advertisement
}

// firstLayer returns the layer a frame of link type lt starts with.
func firstLayer(lt layers.LinkType, frame []byte) (gopacket.LayerType, error) {
	switch lt {
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, nil
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, nil
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, nil
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, nil
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, nil
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, nil
	case layers.LinkTypeRaw, 12: // 12 is raw IP on OpenBSD
		if len(frame) == 0 {
			return 0, errors.New("empty raw IP frame")
		}
		switch frame[0] >> 4 {
		case 4:
			return layers.LayerTypeIPv4, nil
		case 6:
			return layers.LayerTypeIPv6, nil
		}
		return 0, fmt.Errorf("raw IP frame with IP version %d", frame[0]>>4)
	}
	return 0, fmt.Errorf("unsupported link type %d (vrrpdump reads Ethernet, Linux cooked, BSD loopback and raw IP)", int(lt))
}

// decodeFrame decodes the VRRP packet in one frame of link type lt. It
// returns errNotVRRP for a frame that carries no VRRP packet and another
// error for one that cannot be decoded. The record does not retain frame.
func (d *frameDecoder) decodeFrame(frame []byte, lt layers.LinkType) (*record, error) {
	first, err := firstLayer(lt, frame)
	if err != nil {
		return nil, err
	}
	p := d.parsers[first]
	if p == nil {
		p = gopacket.NewDecodingLayerParser(first, &d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop, &d.ip4, &d.ip6)
		// The parser stops after IP: VRRP is decoded by the vrrp package.
		p.IgnoreUnsupported = true
		if d.parsers == nil {
			d.parsers = make(map[gopacket.LayerType]*gopacket.DecodingLayerParser)
		}
		d.parsers[first] = p
	}
	if err := p.DecodeLayers(frame, &d.decoded); err != nil {
		return nil, fmt.Errorf("%d-byte frame: %w", len(frame), err)
	}
	var network gopacket.LayerType
	for _, t := range d.decoded {
		if t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6 {
			network = t // the innermost one in a tunnel
		}
	}
	var (
		src, dst netip.Addr
		ttl      uint8
		msg      []byte
	)
	ipv6 := network == layers.LayerTypeIPv6
	switch network {
	case layers.LayerTypeIPv4:
		ip := &d.ip4
		if ip.Protocol != vrrp.IPProtocol {
			return nil, errNotVRRP
		}
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		if ip.Contents[2] == 0 && ip.Contents[3] == 0 {
			return nil, fmt.Errorf("IPv4 %v > %v: total length 0", src, dst)
		}
		if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
			return nil, fmt.Errorf("IPv4 %v > %v: fragment (offset %d, more fragments %t); vrrpdump does not reassemble",
				src, dst, int(ip.FragOffset)*8, ip.Flags&layers.IPv4MoreFragments != 0)
		}
		if p.Truncated {
			return nil, fmt.Errorf("IPv4 %v > %v: truncated capture, %d of %d payload bytes",
				src, dst, len(ip.Payload), int(ip.Length)-len(ip.Contents))
		}
		ttl, msg = ip.TTL, ip.Payload
	case layers.LayerTypeIPv6:
		ip := &d.ip6
		next := ip.NextHeader
		if ip.HopByHop != nil {
			next = ip.HopByHop.NextHeader
		}
		if next != vrrp.IPProtocol {
			return nil, errNotVRRP
		}
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		if p.Truncated {
			return nil, fmt.Errorf("IPv6 %v > %v: truncated capture, payload length %d", src, dst, ip.Length)
		}
		ttl, msg = ip.HopLimit, ip.Payload
	default:
		return nil, errNotVRRP
	}
	return decodeVRRP(&d.adv, msg, ipv6, src, dst, ttl)
}

// packetSource is what dumpPcap needs of a pcap or pcapng reader.
type packetSource interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// dumpFile dumps the VRRP packets of the capture file at path.
func dumpFile(path string, emit emitFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := dumpPcap(f, emit); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// dumpPcap reads a pcap or pcapng stream and passes each VRRP packet, or
// each frame that cannot be decoded (with its 1-based frame number in the
// error), to emit. Frames without VRRP are skipped. It returns an error
// when the stream itself cannot be read or emit fails.
func dumpPcap(r io.Reader, emit emitFunc) error {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("reading the capture header: %w", err)
	}
	var (
		src      packetSource
		linkType func(ci gopacket.CaptureInfo) (layers.LinkType, error)
	)
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return fmt.Errorf("pcapng: %w", err)
		}
		src = ng
		linkType = func(ci gopacket.CaptureInfo) (layers.LinkType, error) {
			ifc, err := ng.Interface(ci.InterfaceIndex)
			if err != nil {
				return 0, err
			}
			return ifc.LinkType, nil
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return fmt.Errorf("pcap: %w", err)
		}
		lt := pr.LinkType()
		if _, err := firstLayer(lt, []byte{0x45}); err != nil {
			return err
		}
		src = pr
		linkType = func(gopacket.CaptureInfo) (layers.LinkType, error) { return lt, nil }
	}

	var d frameDecoder
	for n := 1; ; n++ {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("frame %d: %w", n, err)
		}
		lt, err := linkType(ci)
		var rec *record
		if err == nil {
			rec, err = d.decodeFrame(data, lt)
		}
		if errors.Is(err, errNotVRRP) {
			continue
		}
		if err != nil {
			err = fmt.Errorf("frame %d: %w", n, err)
		}
		if err := emit(rec, err); err != nil {
			return err
		}
	}
}

// printer writes records as text or JSON lines.
type printer struct {
	w     io.Writer
	json  bool
	flush func() error // called after each line when set
	mu    sync.Mutex   // live capture prints from one goroutine per family
	buf   bytes.Buffer
	enc   *json.Encoder
}

// print writes rec, or err when it is not nil.
func (p *printer) print(rec *record, err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Reset()
	if p.json {
		if p.enc == nil {
			p.enc = json.NewEncoder(&p.buf)
			p.enc.SetEscapeHTML(false) // keep "a > b" in messages readable
		}
		var v any = rec
		if err != nil {
			v = errorRecord{Error: err.Error()}
		}
		if err := p.enc.Encode(v); err != nil { // adds the newline
			return fmt.Errorf("encoding JSON: %w", err)
		}
	} else {
		if err != nil {
			p.buf.WriteString("error: " + err.Error())
		} else {
			p.buf.Write(rec.appendText(p.buf.AvailableBuffer()))
		}
		p.buf.WriteByte('\n')
	}
	if _, err := p.w.Write(p.buf.Bytes()); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	if p.flush != nil {
		if err := p.flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

// authTypeNames are tcpdump's names for the VRRPv2 authentication types.
var authTypeNames = map[uint8]string{vrrp.AuthNone: "none", vrrp.AuthPass: "simple", vrrp.AuthAH: "ah"}

// appendText appends the one-line text form of r, modelled on tcpdump -v.
func (r *record) appendText(b []byte) []byte {
	b = fmt.Appendf(b, "%v > %v: VRRPv%d, Advertisement, ttl %d, vrid %d, prio %d, ",
		r.Src, r.Dst, r.Version, r.TTL, r.VRID, r.Priority)
	if r.AuthType != nil {
		name, ok := authTypeNames[*r.AuthType]
		if !ok {
			name = strconv.Itoa(int(*r.AuthType))
		}
		b = fmt.Appendf(b, "authtype %s, ", name)
	}
	if r.Version == 2 {
		b = fmt.Appendf(b, "intvl %ds, ", r.interval)
	} else {
		b = fmt.Appendf(b, "intvl %dcs, ", r.interval)
	}
	b = fmt.Appendf(b, "length %d, addrs", r.length)
	if len(r.Addresses) != 1 {
		b = fmt.Appendf(b, "(%d)", len(r.Addresses))
	}
	b = append(b, ": "...)
	for i, a := range r.Addresses {
		if i > 0 {
			b = append(b, ',')
		}
		b = a.AppendTo(b)
	}
	if r.Auth != nil {
		b = fmt.Appendf(b, " auth %q", *r.Auth)
	}
	return fmt.Appendf(b, ", checksum %s", r.Checksum)
}

// listenError explains a failure to open a raw socket.
func listenError(fam vrrp.Family, err error) error {
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("opening a raw %v socket for IP protocol %d needs root (or CAP_NET_RAW): %w", fam, vrrp.IPProtocol, err)
	}
	return fmt.Errorf("opening a raw %v socket for IP protocol %d: %w", fam, vrrp.IPProtocol, err)
}

// liveConn reads VRRP packets of one family from a raw socket.
type liveConn interface {
	// read returns the next VRRP message with its addressing. It returns
	// errNotVRRP for a packet to skip and a badPacket error for one to
	// report; any other error ends the capture.
	read(buf []byte) (msg []byte, src, dst netip.Addr, ttl uint8, err error)
	Close() error
}

// badPacket is a received packet that cannot be decoded.
type badPacket struct{ error }

// capture dumps the VRRP packets that arrive on iface for fams until ctx
// is done or reading fails.
func capture(ctx context.Context, iface string, fams []vrrp.Family, emit emitFunc) error {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		return fmt.Errorf("interface %q: %w", iface, err)
	}
	var conns []liveConn
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for _, fam := range fams {
		var c liveConn
		if fam == vrrp.IPv4 {
			c, err = listen4(ifi)
		} else {
			c, err = listen6(ifi)
		}
		if err != nil {
			closeAll()
			return err
		}
		conns = append(conns, c)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		closeAll()
	}()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var adv vrrp.Advertisement
			buf := make([]byte, 1<<16)
			for {
				msg, src, dst, ttl, err := c.read(buf)
				if ctx.Err() != nil {
					return
				}
				if errors.Is(err, errNotVRRP) {
					continue
				}
				var bad badPacket
				if errors.As(err, &bad) {
					if err := emit(nil, bad.error); err != nil {
						fail(err)
						return
					}
					continue
				}
				if err != nil {
					fail(fmt.Errorf("reading %v: %w", fams[i], err))
					return
				}
				rec, derr := decodeVRRP(&adv, msg, fams[i] == vrrp.IPv6, src, dst, ttl)
				if err := emit(rec, derr); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// conn4 receives IPv4 VRRP packets on one interface.
type conn4 struct {
	c   *ipv4.RawConn
	ifi *net.Interface
}

func listen4(ifi *net.Interface) (*conn4, error) {
	pc, err := net.ListenPacket("ip4:112", "0.0.0.0")
	if err != nil {
		return nil, listenError(vrrp.IPv4, err)
	}
	rc, err := ipv4.NewRawConn(pc)
	if err != nil {
		pc.Close()
		return nil, listenError(vrrp.IPv4, err)
	}
	if err := rc.SetControlMessage(ipv4.FlagInterface, true); err != nil {
		rc.Close()
		return nil, fmt.Errorf("IPv4 control messages: %w", err)
	}
	if err := rc.JoinGroup(ifi, &net.IPAddr{IP: vrrp.Group4.AsSlice()}); err != nil {
		rc.Close()
		return nil, fmt.Errorf("joining %v on %s: %w", vrrp.Group4, ifi.Name, err)
	}
	return &conn4{c: rc, ifi: ifi}, nil
}

func (c *conn4) read(buf []byte) ([]byte, netip.Addr, netip.Addr, uint8, error) {
	h, p, cm, err := c.c.ReadFrom(buf)
	if err != nil {
		return nil, netip.Addr{}, netip.Addr{}, 0, err
	}
	// The raw socket gets protocol 112 from every interface.
	if cm != nil && cm.IfIndex != 0 && cm.IfIndex != c.ifi.Index {
		return nil, netip.Addr{}, netip.Addr{}, 0, errNotVRRP
	}
	src, _ := netip.AddrFromSlice(h.Src.To4())
	dst, _ := netip.AddrFromSlice(h.Dst.To4())
	return p, src, dst, uint8(h.TTL), nil
}

func (c *conn4) Close() error { return c.c.Close() }

// conn6 receives IPv6 VRRP packets on one interface.
type conn6 struct {
	c   *ipv6.PacketConn
	ifi *net.Interface
}

func listen6(ifi *net.Interface) (*conn6, error) {
	lc, err := net.ListenPacket("ip6:112", "::")
	if err != nil {
		return nil, listenError(vrrp.IPv6, err)
	}
	pc := ipv6.NewPacketConn(lc)
	if err := pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true); err != nil {
		pc.Close()
		return nil, fmt.Errorf("IPv6 control messages: %w", err)
	}
	if err := pc.JoinGroup(ifi, &net.IPAddr{IP: vrrp.Group6.AsSlice()}); err != nil {
		pc.Close()
		return nil, fmt.Errorf("joining %v on %s: %w", vrrp.Group6, ifi.Name, err)
	}
	return &conn6{c: pc, ifi: ifi}, nil
}

func (c *conn6) read(buf []byte) ([]byte, netip.Addr, netip.Addr, uint8, error) {
	n, cm, from, err := c.c.ReadFrom(buf)
	if err != nil {
		return nil, netip.Addr{}, netip.Addr{}, 0, err
	}
	if cm != nil && cm.IfIndex != 0 && cm.IfIndex != c.ifi.Index {
		return nil, netip.Addr{}, netip.Addr{}, 0, errNotVRRP
	}
	if cm == nil {
		return nil, netip.Addr{}, netip.Addr{}, 0, badPacket{fmt.Errorf("IPv6 packet from %v without its control message", from)}
	}
	var src netip.Addr
	if a, ok := from.(*net.IPAddr); ok {
		src, _ = netip.AddrFromSlice(a.IP.To16())
	}
	dst, _ := netip.AddrFromSlice(cm.Dst.To16())
	if !src.IsValid() || !dst.IsValid() {
		return nil, netip.Addr{}, netip.Addr{}, 0, badPacket{fmt.Errorf("IPv6 packet without addresses (from %v, to %v)", from, cm.Dst)}
	}
	return buf[:n], src, dst, uint8(cm.HopLimit), nil
}

func (c *conn6) Close() error { return c.c.Close() }

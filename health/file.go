package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"syscall"
	"time"

	"github.com/vrrpkit/vrrpkit/vrrp"
)

// ErrFileValue is returned (wrapped) by File.Read when the file holds a
// number that does not fit in 32 bits. keepalived ignores such a reading
// and keeps the previous value; so does the Tracker.
var ErrFileValue = errors.New("health: track file value out of range")

// File weights and the file's value limits, as keepalived's.
const (
	// MinFileWeight and MaxFileWeight bound the weight of a track file,
	// in File and in FileTrack.
	MinFileWeight = -254
	MaxFileWeight = 254
	// fileReadMax is how much of the file keepalived reads.
	fileReadMax = 127
)

// File is a track file, as keepalived's track_file (vrrp_track_file): a
// file holding an integer that moves the priority of the instances that
// track it, so that another program can steer failover by writing a
// number.
//
// The value is read as C's strtol(3) with base 0 reads the first 127 bytes
// (leading blanks, a sign, then decimal, 0x hexadecimal or 0 octal digits,
// anything after them ignored). A missing, unreadable or empty file, or
// one that does not start with a number, counts as 0; a number beyond 32
// bits is ignored and the previous value kept. An instance tracking the
// file with weight W gets value × W (× -1 with Reverse) added to its
// priority; a result of -254 or less puts it in FAULT instead, and a result
// above 253 counts as 253. With weight 0 the file is a plain flag: any
// non-zero value is a FAULT, 0 is healthy (with Reverse, 0 is the FAULT).
// See FileEffect.
//
// keepalived reads the file when inotify says it was written; the Tracker
// reads it every Interval on its clock instead.
type File struct {
	// Name identifies the file in FileTrack and in logs.
	Name string
	// Path is the file.
	Path string
	// Weight is the weight of the file's value, -254 to 254, for the
	// tracks that set none. keepalived's default is 1; here 0 means 0,
	// the flag mode above, so set it.
	Weight int
	// Reverse negates the value (keepalived's "weight W reverse").
	Reverse bool
	// Interval is how often the file is read; 0 means 1 s.
	Interval time.Duration
	// Init creates the file holding InitValue when it does not exist, at
	// the start of Tracker.Run (keepalived's init_file).
	Init bool
	// InitValue is the value Init writes.
	InitValue int
	// Overwrite, with Init, writes InitValue even over an existing file
	// (keepalived's "init_file VALUE overwrite"), at the start of
	// Tracker.Run; as keepalived at a configuration reload, Tracker.Reload
	// does not.
	Overwrite bool
}

// FileTrack is a track file an instance tracks (keepalived's track_file
// block of a vrrp_instance).
type FileTrack struct {
	// File names a File of the Tracker.
	File string
	// Weight, when set, replaces the File's weight for this instance:
	// -254 to 254.
	Weight *int
	// Reverse, when set, replaces the File's Reverse for this instance
	// (keepalived's "weight W reverse" or "weight W noreverse").
	Reverse *bool
}

// weight returns the weight and direction the track uses with file f.
func (t FileTrack) weight(f File) (int, bool) {
	w, r := f.Weight, f.Reverse
	if t.Weight != nil {
		w = *t.Weight
	}
	if t.Reverse != nil {
		r = *t.Reverse
	}
	return w, r
}

// FileEffect returns what a track file holding value means for an
// instance tracking it with weight and reverse, as keepalived computes it
// (update_track_file_status and process_update_vrrp_track_file_status in
// keepalived/trackers/track_file.c): with weight 0, a fault when value is
// non-zero (zero with reverse); otherwise value × weight (negated with
// reverse), a fault at -254 or below, at most 253.
func FileEffect(value int64, weight int, reverse bool) (delta int, fault bool) {
	if weight == 0 {
		return 0, (value != 0) != reverse
	}
	m := int64(weight)
	if reverse {
		m = -m
	}
	// |value| < 2^32 and |weight| <= 254 when they come from Read and a
	// valid configuration; clamp anyway so that nothing overflows.
	v := max(min(value, math.MaxInt32+1), math.MinInt32)
	s := v * max(min(m, 1<<16), -1<<16)
	if s <= -254 {
		return 0, true
	}
	return int(min(s, 253)), false
}

// Validate reports what is wrong with f.
func (f File) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: track file %q: %s", ErrCheck, f.Name, fmt.Sprintf(format, args...)))
	}
	if f.Name == "" {
		bad("Name is required")
	}
	if f.Path == "" {
		bad("Path is required")
	}
	if f.Weight < MinFileWeight || f.Weight > MaxFileWeight {
		bad("Weight %d is not in %d..%d", f.Weight, MinFileWeight, MaxFileWeight)
	}
	if f.Interval < 0 {
		bad("Interval must not be negative")
	}
	if f.InitValue < math.MinInt32 || f.InitValue > math.MaxInt32 {
		bad("InitValue %d does not fit in 32 bits", f.InitValue)
	}
	return errors.Join(errs...)
}

// Initialize applies Init: when the file does not exist, or with
// Overwrite when it is a regular file, it writes InitValue and a newline
// to it, as keepalived's init_file does. Without Init it does nothing.
func (f File) Initialize() error {
	if !f.Init {
		return nil
	}
	st, err := os.Lstat(f.Path)
	switch {
	case err == nil && !f.Overwrite:
		return nil
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("%w: track file %s: cannot initialise %s: not a regular file", ErrCheck, f.Name, f.Path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("health: track file %s: %w", f.Name, err)
	}
	// As keepalived's fopen_safe: no following a symlink put in the way.
	w, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("health: track file %s: initialising: %w", f.Name, err)
	}
	_, err = fmt.Fprintf(w, "%d\n", f.InitValue)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("health: track file %s: initialising: %w", f.Name, err)
	}
	return nil
}

// Read reads the file's value as keepalived does. On success the error is
// nil. Otherwise the value is 0 and the error says why: the file is
// missing or unreadable, or holds no number (keepalived then uses 0, and
// so does the Tracker), or, wrapping ErrFileValue, it holds a number
// beyond 32 bits (keepalived then keeps the previous value, and so does
// the Tracker). An empty or blank file is 0 without an error.
func (f File) Read() (int64, error) {
	r, err := os.OpenFile(f.Path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return 0, fmt.Errorf("health: track file %s: %w (counts as 0)", f.Name, err)
	}
	defer r.Close()
	buf := make([]byte, fileReadMax)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, fmt.Errorf("health: track file %s: %w (counts as 0)", f.Name, err)
	}
	b := buf[:n]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i] // C reads a string
	}
	v, digits, overflow := strtol(b)
	switch {
	case overflow || v < math.MinInt32 || v > math.MaxInt32+1:
		return 0, fmt.Errorf("%w: track file %s holds %q (ignored)", ErrFileValue, f.Name, trimForLog(b))
	case !digits && !blank(b):
		return 0, fmt.Errorf("health: track file %s holds no number: %q (counts as 0)", f.Name, trimForLog(b))
	}
	return v, nil
}

// strtol parses b as C's strtol(b, NULL, 0) does: leading white space, an
// optional sign, then a hexadecimal number after 0x or 0X, an octal one
// after 0, or a decimal one, up to the first byte that is not a digit of
// the base. It reports whether it read any digit and whether the number
// overflowed 64 bits.
func strtol(b []byte) (v int64, digits, overflow bool) {
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') && digitValue(b[i+2]) < 16:
		base, i = 16, i+2
	case i < len(b) && b[i] == '0':
		base = 8
	}
	var u uint64
	for ; i < len(b); i++ {
		d := uint64(digitValue(b[i]))
		if d >= base {
			break
		}
		digits = true
		if u > (math.MaxUint64-d)/base {
			overflow = true
			continue
		}
		u = u*base + d
	}
	switch {
	case overflow:
	case neg && u > 1<<63:
		overflow = true
	case !neg && u > math.MaxInt64:
		overflow = true
	case neg:
		v = -int64(u-1) - 1
	default:
		v = int64(u)
	}
	return v, digits, overflow
}

func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func blank(b []byte) bool {
	for _, c := range b {
		if !isCSpace(c) {
			return false
		}
	}
	return true
}

func digitValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// trimForLog returns at most 40 bytes of b, for a log line.
func trimForLog(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// fileUser is an instance tracking a file, with its weight.
type fileUser struct {
	instance string
	weight   int
	reverse  bool
}

// filePoller reads one File on a clock and reports its value: the first
// and then each change.
type filePoller struct {
	file   File
	clock  vrrp.Clock
	log    *slog.Logger
	report func(value int64, first bool)
}

// run reads the file at once and then every Interval until ctx is done,
// and reports its first value and then each change.
func (p *filePoller) run(ctx context.Context) {
	f := p.file
	interval := f.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	log := p.log.With("file", f.Name, "path", f.Path)
	var (
		value    int64 // keepalived starts from 0
		lastErr  string
		first    = true
		t, timer = p.clock.NewTimer(0)
	)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer:
		}
		v, err := f.Read()
		switch {
		case err == nil:
			if lastErr != "" {
				log.Info(fmt.Sprintf("Track file %s is readable again", f.Name), "value", v)
			}
			lastErr = ""
		case err.Error() != lastErr:
			lastErr = err.Error()
			log.Warn(err.Error())
		}
		if errors.Is(err, ErrFileValue) {
			v = value
		}
		if v != value && !first {
			log.Info(fmt.Sprintf("Track file %s: value %d -> %d", f.Name, value, v), "from", value, "to", v)
		}
		if first || v != value {
			p.report(v, first)
		}
		value = v
		first = false
		t.Reset(interval)
	}
}

// fileState returns what a track file holding value says about an
// instance tracking it with weight and reverse, under source: Delta is
// value × weight (negated with reverse), clamped as FileEffect does, and
// vrrp.TrackFaultDelta where FileEffect gives a fault; Down is what the file means
// as a flag (weight 0): non-zero, or zero with reverse.
func fileState(source string, value int64, weight int, reverse bool) vrrp.TrackState {
	delta, fault := FileEffect(value, weight, reverse)
	if fault {
		delta = vrrp.TrackFaultDelta
	}
	_, down := FileEffect(value, 0, reverse)
	return vrrp.TrackState{Source: source, Weight: weight, Delta: delta, Down: down}
}

package kaconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Pos is a position in a configuration file: the file as it was named (the
// top file as passed to Load, an included file as its include line resolved
// it) and the 1-based line number.
type Pos struct {
	// File is the file's name.
	File string
	// Line is the line number, from 1.
	Line int
}

// String returns "FILE:LINE", or "" for the zero Pos.
func (p Pos) String() string {
	if p.File == "" && p.Line == 0 {
		return ""
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// IsValid reports whether p names a line.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Severity grades a Diagnostic.
type Severity int

// The severities, from the most to the least serious.
const (
	// Error means the configuration cannot be run as keepalived would run
	// it: a syntax error, a condition keepalived treats as fatal, or a
	// keyword that would change behaviour and that vrrpkit does not
	// support. A daemon should refuse a configuration with errors.
	Error Severity = iota + 1
	// Warning means keepalived would run the configuration, and so do we,
	// but not quite as written: keepalived's own warnings (a value replaced
	// by its default, a truncated password, a setting cleared), unknown
	// keywords, and keywords that have no effect in a VRRP-only daemon.
	Warning
	// Info is a remark that needs no action, such as a default keepalived
	// derives in a way that may surprise.
	Info
)

// String returns "error", "warning" or "info".
func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	case Info:
		return "info"
	}
	return "severity(" + strconv.Itoa(int(s)) + ")"
}

// Diagnostic is an error, warning or remark about a configuration, at the
// line it concerns.
type Diagnostic struct {
	// File and Line are where the problem is.
	File string
	Line int
	// Severity grades it.
	Severity Severity
	// Message says what it is, in keepalived's words when keepalived
	// reports the same problem.
	Message string

	remark bool
}

// Pos returns the position of d.
func (d Diagnostic) Pos() Pos { return Pos{File: d.File, Line: d.Line} }

// String returns "FILE:LINE: severity: message", as compilers print
// theirs (or "severity: message" when d has no position).
func (d Diagnostic) String() string {
	if p := d.Pos().String(); p != "" {
		return p + ": " + d.Severity.String() + ": " + d.Message
	}
	return d.Severity.String() + ": " + d.Message
}

// Text returns "FILE:LINE: message" without the severity (or just the
// message when d has no position), for logs that carry the severity as
// their level.
func (d Diagnostic) Text() string {
	if p := d.Pos().String(); p != "" {
		return p + ": " + d.Message
	}
	return d.Message
}

// Remark reports whether d is a warning about how this package runs the
// configuration rather than about the configuration itself: a keyword that
// has no effect here, words keepalived ignores silently, what keepalived
// logs only when it runs (an unused script). keepalived 2.2.7 -t gives
// none of these, and passes a file whose only warnings are remarks; so
// does vrrpd -t.
func (d Diagnostic) Remark() bool { return d.Severity == Warning && d.remark }

// SecurityViolation reports whether d is keepalived's SECURITY VIOLATION:
// scripts that would run as root without enable_script_security, for which
// keepalived -t exits with status 6 rather than 5.
func (d Diagnostic) SecurityViolation() bool {
	return strings.HasPrefix(d.Message, "SECURITY VIOLATION")
}

// ErrConfig is wrapped by the error that Diagnostics.Err returns.
var ErrConfig = errors.New("kaconf: invalid configuration")

// Diagnostics is a list of diagnostics, in the order they were found.
type Diagnostics []Diagnostic

// HasErrors reports whether ds holds a diagnostic of severity Error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Filter returns the diagnostics of severity sev, in order.
func (ds Diagnostics) Filter(sev Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == sev {
			out = append(out, d)
		}
	}
	return out
}

// Err returns nil when ds holds no error, or an error wrapping ErrConfig
// that lists every diagnostic of severity Error, one per line.
func (ds Diagnostics) Err() error {
	errs := ds.Filter(Error)
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w:\n%s", ErrConfig, errs.String())
}

// Count returns how many diagnostics ds holds of each severity, with the
// warnings that are remarks (Diagnostic.Remark) counted apart from the
// others.
func (ds Diagnostics) Count() (errors, warnings, remarks, infos int) {
	for _, d := range ds {
		switch {
		case d.Severity == Error:
			errors++
		case d.Remark():
			remarks++
		case d.Severity == Warning:
			warnings++
		case d.Severity == Info:
			infos++
		}
	}
	return errors, warnings, remarks, infos
}

// String returns the diagnostics one per line, as
// "FILE:LINE: severity: message".
func (ds Diagnostics) String() string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

// diagSink collects diagnostics.
type diagSink struct {
	list Diagnostics
}

func (s *diagSink) add(pos Pos, sev Severity, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	s.list = append(s.list, Diagnostic{File: pos.File, Line: pos.Line, Severity: sev, Message: msg})
}

func (s *diagSink) errorf(pos Pos, format string, args ...any) {
	s.add(pos, Error, format, args...)
}

func (s *diagSink) warnf(pos Pos, format string, args ...any) {
	s.add(pos, Warning, format, args...)
}

// remarkf adds a warning that is a remark (see Diagnostic.Remark).
func (s *diagSink) remarkf(pos Pos, format string, args ...any) {
	s.add(pos, Warning, format, args...)
	s.list[len(s.list)-1].remark = true
}

func (s *diagSink) infof(pos Pos, format string, args ...any) {
	s.add(pos, Info, format, args...)
}

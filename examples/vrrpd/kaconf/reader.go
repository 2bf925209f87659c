package kaconf

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
)

// This file is keepalived's read_line (lib/parser.c) in Go: it turns the
// physical lines of the configuration files into the logical lines the
// keyword parser sees. In order, for each physical line:
//
//   - "\n" and "\r" are stripped at the end; an empty line is skipped.
//   - decomment: leading blanks go; '#' or '!' outside double quotes
//     starts a comment to the end of the line (also right after a word);
//     "\#" and "\!" outside quotes stand for '#' and '!'; trailing blanks
//     go; a final '\' is kept (it continues a multi-line definition, and
//     nothing else: keepalived has no general line continuation).
//   - "@ID rest" keeps rest only when ID is the config id (keepalived -i),
//     "@^ID rest" only when it is not.
//   - "$NAME=VALUE" defines a parameter; a VALUE ending in '\' continues
//     on the next lines.
//   - "~SEQ(var, start, step, end) rest" and "~LST(var, v1, v2, ...) rest"
//     repeat rest with $var set in turn.
//   - "$NAME" (followed by a blank, ',', ')' or the end) and "${NAME}" are
//     replaced by the parameter's value, again and again, so that values
//     may refer to other parameters; a multi-line value is spliced in as
//     several lines. Undefined names are left alone.
//   - "include PATTERN" (and includer, includem, includew, includeb,
//     includea) reads the files PATTERN matches, relative to the directory
//     of the including file, with glob wildcards and csh braces.
//   - the line is cut before its first '{' or '}' outside double quotes;
//     the brace, and then the rest, become lines of their own, so that
//     "a { b }" reads as "a", "{", "b", "}".

// Limits that keep a hostile configuration from exhausting the reader.
const (
	// DefaultMaxLines bounds the logical lines that ~SEQ, ~LST and
	// multi-line parameters may generate in one Load.
	DefaultMaxLines = 1 << 20
	// maxIncludeDepth bounds nested includes.
	maxIncludeDepth = 64
	// maxSubstitutions bounds the parameter replacements on one line.
	maxSubstitutions = 1000
	// maxLineLen bounds a line after parameter substitution.
	maxLineLen = 1 << 16
)

// line is one logical line.
type line struct {
	pos  Pos
	text string
}

// definition is a $NAME parameter.
type definition struct {
	name      string
	value     string
	multiline bool
	// fn computes the value of a predefined parameter from its parameters
	// (only ${_RANDOM MIN MAX} takes any).
	fn        func(params []string) string
	maxParams int
}

// producer yields lines that do not come from a file: the iterations of a
// ~SEQ or ~LST, or the further lines of a multi-line parameter.
type producer struct {
	pos   Pos
	lines []string // multi-line parameter: the lines still to come
	// ~SEQ / ~LST: vars take values[i] for the i-th copy of text.
	vars   []string
	values [][]string
	next   int
	text   string
}

func (p *producer) done() bool {
	if p.vars != nil {
		return p.next >= len(p.values)
	}
	return len(p.lines) == 0
}

// source is a file being read.
type source struct {
	name  string // as shown in positions
	key   string // identifies the file, for include cycles
	dir   string // directory of relative includes and ${_PWD}
	lines []string
	next  int
	prods []*producer
	// rest are the further files of the include that opened this one.
	rest    []string
	incPos  Pos
	incKind string
}

// reader produces the logical lines of a configuration.
type reader struct {
	fsys     FileSystem
	diags    *diagSink
	configID string
	rng      *rand.Rand
	maxLines int

	defs       map[string]*definition
	stack      []*source
	residue    *line
	collecting *definition
	generated  int
	// quoteErr holds the positions where a quoting error was reported, so
	// that the word splitter does not report it again.
	quoteErr map[Pos]bool
}

func newReader(fsys FileSystem, diags *diagSink, opts *LoadOptions) *reader {
	seed := opts.RandomSeed
	r := &reader{
		fsys:     fsys,
		diags:    diags,
		configID: opts.ConfigID,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		maxLines: opts.MaxLines,
		defs:     map[string]*definition{},
		quoteErr: map[Pos]bool{},
	}
	if r.maxLines <= 0 {
		r.maxLines = DefaultMaxLines
	}
	r.defs["_PWD"] = &definition{name: "_PWD", fn: func([]string) string {
		if s := r.top(); s != nil {
			return s.dir
		}
		return ""
	}}
	r.defs["_INSTANCE"] = &definition{name: "_INSTANCE", fn: func([]string) string { return r.configID }}
	r.defs["_RANDOM"] = &definition{name: "_RANDOM", fn: r.random, maxParams: 2}
	r.defs["_HASH"] = &definition{name: "_HASH", value: "#"}
	r.defs["_BANG"] = &definition{name: "_BANG", value: "!"}
	return r
}

// random is ${_RANDOM [MIN [MAX]]}: an integer in [MIN, MAX], by default
// [0, 32767].
func (r *reader) random(params []string) string {
	lo, hi := uint64(0), uint64(32767)
	if len(params) > 0 {
		lo, _ = strconv.ParseUint(params[0], 10, 32)
	}
	if len(params) > 1 {
		hi, _ = strconv.ParseUint(params[1], 10, 32)
	}
	if hi < lo {
		hi = lo
	}
	return strconv.FormatUint(lo+r.rng.Uint64N(hi-lo+1), 10)
}

func (r *reader) top() *source {
	if len(r.stack) == 0 {
		return nil
	}
	return r.stack[len(r.stack)-1]
}

// push starts reading a file.
func (r *reader) push(name string, data []byte, incPos Pos, rest []string, kind string) {
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	var lines []string
	if text != "" || len(data) > 0 {
		lines = strings.Split(text, "\n")
	}
	r.stack = append(r.stack, &source{
		name:    name,
		key:     fileKey(name),
		dir:     absDir(name),
		lines:   lines,
		rest:    rest,
		incPos:  incPos,
		incKind: kind,
	})
}

// pop ends the current file and opens the next one its include matched.
func (r *reader) pop() {
	s := r.top()
	r.stack = r.stack[:len(r.stack)-1]
	r.endCollecting()
	if len(s.rest) > 0 {
		r.openIncluded(s.rest, s.incPos, s.incKind)
	}
}

func fileKey(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return filepath.Clean(name)
}

func absDir(name string) string {
	return filepath.Dir(fileKey(name))
}

// next returns the next logical line, or false at the end.
func (r *reader) next() (line, bool) {
	for {
		var ln line
		switch {
		case r.residue != nil:
			ln, r.residue = *r.residue, nil
		default:
			s := r.top()
			if s == nil {
				r.endCollecting()
				return line{}, false
			}
			if p := r.producer(s); p != nil {
				r.generated++
				if r.generated > r.maxLines {
					r.diags.errorf(p.pos, "~SEQ, ~LST and multi-line parameters generate more than %d lines - stopping", r.maxLines)
					for _, s := range r.stack {
						s.prods = nil
					}
					continue
				}
				ln.pos = p.pos
				if p.vars != nil {
					for i, v := range p.vars {
						r.defs[v] = &definition{name: v, value: p.values[p.next][i]}
					}
					ln.text = p.text
					p.next++
				} else {
					ln.text, p.lines = p.lines[0], p.lines[1:]
				}
				break
			}
			if s.next >= len(s.lines) {
				r.pop()
				continue
			}
			raw := s.lines[s.next]
			s.next++
			ln.pos = Pos{File: s.name, Line: s.next}
			if i := strings.IndexByte(raw, 0); i >= 0 {
				raw = raw[:i] // keepalived's C strings end there
			}
			raw = strings.TrimRight(raw, "\r")
			if raw == "" {
				r.endCollecting()
				continue
			}
			ln.text = r.decomment(raw, ln.pos)
			if ln.text == "" {
				r.endCollecting()
				continue
			}
		}
		if r.collecting != nil {
			r.collect(ln.text)
			continue
		}
		text := r.process(ln.text, ln.pos)
		if text == "" {
			continue
		}
		if r.include(text, ln.pos) {
			continue
		}
		ln.text = r.splitBraces(text, ln.pos)
		if ln.text == "" {
			continue
		}
		return ln, true
	}
}

// producer returns the producer of s that yields the next line, dropping
// those that are done.
func (r *reader) producer(s *source) *producer {
	for len(s.prods) > 0 {
		p := s.prods[len(s.prods)-1]
		if !p.done() {
			return p
		}
		s.prods = s.prods[:len(s.prods)-1]
	}
	return nil
}

// decomment removes comments and blanks as keepalived's decomment() does.
func (r *reader) decomment(s string, pos Pos) string {
	out, unterminated := decomment(s)
	if unterminated {
		r.diags.errorf(pos, "Unterminated quote '%s'", strings.TrimLeft(s, " \t"))
		r.quoteErr[pos] = true
	}
	return out
}

// decomment is keepalived's decomment(); it also reports an unterminated
// double quote.
func decomment(s string) (string, bool) {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote, cont := false, false
	skip := -1 // where the comment starts, in b
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if skip < 0 {
				quote = !quote
			}
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				i = len(s)
				continue
			}
			n := s[i+1]
			if !quote && (n == '#' || n == '!') {
				// "\#" outside quotes is a literal '#'.
				b.WriteByte(n)
				i++
				continue
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
			continue
		case (c == '!' || c == '#') && !quote && skip < 0:
			skip = b.Len()
		}
		b.WriteByte(c)
	}
	out := b.String()
	if skip >= 0 {
		out = out[:skip]
	}
	out = strings.TrimRight(out, " \t")
	if cont {
		out += `\`
	}
	return out, quote
}

// secondRead applies keepalived 2.2.7's second reading of a line. Its
// parent process reads the configuration, writes the lines it reads to a
// copy, and the VRRP and checker processes read that copy: comments are
// removed a second time, so a '#' or '!' that the first reading produced
// outside double quotes (from "\#", "\!", ${_HASH}, ${_BANG} or a
// parameter's value) starts a comment there. global_defs is read by the
// parent only, where these work as documented.
func (r *reader) secondRead(text string, pos Pos) string {
	out, _ := decomment(text)
	if out != text {
		r.diags.remarkf(pos, "'%s' is cut to '%s': keepalived 2.2.7 reads this section twice, and a '#' or '!' from \\#, \\!, ${_HASH}, ${_BANG} or a parameter starts a comment the second time (put it inside double quotes)", text, out)
	}
	return out
}

// endCollecting ends a multi-line definition.
func (r *reader) endCollecting() {
	if d := r.collecting; d != nil {
		if d.value == "" {
			d.multiline = false
		}
		r.collecting = nil
	}
}

// collect adds a line to the multi-line definition being read.
func (r *reader) collect(text string) {
	d := r.collecting
	if strings.HasSuffix(text, `\`) {
		t := strings.TrimRight(text[:len(text)-1], " \t") + "\n"
		if len(t) >= 2 {
			d.value += t
		}
		return
	}
	d.value += text
	r.endCollecting()
}

// process applies conditional configuration, definitions, sequences and
// parameter substitution to a line. It returns "" when nothing is left.
func (r *reader) process(text string, pos Pos) string {
	for iter := 0; ; iter++ {
		if iter > maxSubstitutions {
			r.diags.errorf(pos, "parameter substitution does not terminate on line '%s'", text)
			return ""
		}
		if text == "" {
			return ""
		}
		if text[0] == '@' {
			ofs, rev := 1, false
			if len(text) > 1 && text[1] == '^' {
				ofs, rev = 2, true
			}
			sp := strings.IndexAny(text[ofs:], " \t")
			if sp < 0 {
				return ""
			}
			id := text[ofs : ofs+sp]
			match := r.configID != "" && id == r.configID
			if match == rev {
				return ""
			}
			text = strings.TrimLeft(text[ofs+sp:], " \t")
			if text == "" {
				return ""
			}
		}
		if text[0] == '$' && r.define(text) {
			return ""
		}
		if strings.HasPrefix(text, "~SEQ") {
			r.sequence(text, pos)
			return ""
		}
		if strings.HasPrefix(text, "~LST") {
			r.list(text, pos)
			return ""
		}
		if text[0] == '~' || !strings.Contains(text, "$") {
			return text
		}
		out, replaced, loop := r.substitute(text, pos)
		if loop {
			return text
		}
		if !replaced {
			return out
		}
		text = out
		if text == "" || (text[0] != '@' && !strings.Contains(text, "$")) {
			return text
		}
	}
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isNameByte(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '_'
}

// define handles "$NAME=VALUE" and reports whether text was one.
func (r *reader) define(text string) bool {
	if len(text) < 2 || !(isAlpha(text[1]) || text[1] == '_') {
		return false
	}
	p := 2
	for ; p < len(text) && text[p] != '='; p++ {
		if !isNameByte(text[p]) {
			return false
		}
	}
	if p == len(text) {
		return false
	}
	name := text[1:p]
	value := strings.TrimLeft(text[p+1:], " \t")
	d := &definition{name: name}
	if strings.HasSuffix(value, `\`) {
		v := strings.TrimRight(value[:len(value)-1], " \t")
		if v != "" {
			v += "\n"
		}
		d.value, d.multiline = v, true
		r.collecting = d
	} else {
		d.value = value
	}
	r.defs[name] = d
	return true
}

// ref finds a parameter reference at the start of s (just after a '$').
// It returns the definition, the length of the reference in s, and any
// parameters.
func (r *reader) ref(s string) (*definition, int, []string) {
	braces := len(s) > 0 && s[0] == '{'
	name := s
	if braces {
		name = s[1:]
	}
	if name == "" || !(isAlpha(name[0]) || name[0] == '_') {
		return nil, 0, nil
	}
	n := 1
	for n < len(name) && isNameByte(name[n]) {
		n++
	}
	var params []string
	var consumed int
	var atEnd bool
	if braces {
		p := n
		for p < len(name) && (name[p] == ' ' || isDigit(name[p])) {
			p++
		}
		ps := name[n:p]
		if strings.TrimSpace(ps) != "" {
			if strings.HasSuffix(ps, " ") {
				return nil, 0, nil
			}
			params = strings.Fields(ps)
		}
		if p >= len(name) || name[p] != '}' {
			return nil, 0, nil
		}
		consumed = 1 + p + 1
		atEnd = params == nil && consumed == len(s)
	} else {
		if n < len(name) && !strings.ContainsRune(" \t,)", rune(name[n])) {
			return nil, 0, nil
		}
		consumed = n
		atEnd = n == len(name)
	}
	d := r.defs[name[:n]]
	if d == nil || (d.multiline && !atEnd) || (params != nil && (d.maxParams == 0 || len(params) > d.maxParams)) {
		return nil, 0, nil
	}
	return d, consumed, params
}

// substitute replaces parameter references, as keepalived's
// replace_param(): a replaced value is scanned again, so that values may
// hold references.
func (r *reader) substitute(text string, pos Pos) (out string, found, loop bool) {
	orig := text
	cur, count := 0, 0
	for {
		i := strings.IndexByte(text[cur:], '$')
		if i < 0 {
			break
		}
		i += cur
		if i+1 >= len(text) {
			break
		}
		d, n, params := r.ref(text[i+1:])
		if d == nil {
			cur = i + 1
			continue
		}
		count++
		if count > maxSubstitutions || len(text) > maxLineLen {
			r.diags.errorf(pos, "parameter substitution does not terminate on line '%s'", orig)
			return orig, false, true
		}
		value := d.value
		if d.fn != nil {
			value = d.fn(params)
		}
		if d.multiline {
			first, rest, _ := strings.Cut(value, "\n")
			if rest != "" {
				if s := r.top(); s != nil {
					s.prods = append(s.prods, &producer{pos: pos, lines: strings.Split(rest, "\n")})
				}
			}
			value = first
		}
		text = text[:i] + value + text[i+1+n:]
		found = true
		if strings.HasPrefix(strings.TrimLeft(value, " \t"), "~") {
			break
		}
	}
	return text, found, false
}

// sequence handles "~SEQ(var, start, step, end) text" and "~SEQx(...)".
func (r *reader) sequence(text string, pos Pos) {
	bad := func(msg string) {
		r.diags.errorf(pos, "%s '%s'", msg, text)
	}
	p := text[4:]
	hex := false
	if strings.HasPrefix(p, "x") {
		hex, p = true, p[1:]
	}
	p = strings.TrimLeft(p, " \t")
	if !strings.HasPrefix(p, "(") {
		bad("Invalid ~SEQ specification")
		return
	}
	end := strings.IndexByte(p, ')')
	if end < 0 {
		bad("Invalid ~SEQ definition")
		return
	}
	spec, rest := p[1:end], strings.TrimLeft(p[end+1:], " \t")
	v, args, ok := strings.Cut(spec, ",")
	v = strings.TrimSpace(v)
	if !ok || v == "" || !validName(v) {
		bad("Invalid ~SEQ definition")
		return
	}
	args, _, _ = r.substitute(args, pos)
	var nums []int64
	for _, a := range strings.Split(args, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(a), 0, 64)
		if err != nil {
			bad("Invalid ~SEQ definition")
			return
		}
		nums = append(nums, n)
	}
	var start, step, last int64
	switch len(nums) {
	case 1:
		last = nums[0]
		step, start = 1, 1
		if last < 1 {
			step = -1
		}
		if last < 0 {
			start = -1
		}
	case 2:
		start, last, step = nums[0], nums[1], 1
		if start > last {
			step = -1
		}
	case 3:
		start, step, last = nums[0], nums[1], nums[2]
		if step == 0 || (start < last && step < 0) || (start > last && step > 0) {
			bad("Invalid ~SEQ values")
			return
		}
	default:
		bad("Invalid ~SEQ definition")
		return
	}
	if hex && (start < 0 || last < 0) {
		bad("~SEQx is only valid for positive numbers")
		return
	}
	prod := &producer{pos: pos, vars: []string{v}, text: rest}
	for n := start; (step > 0 && n <= last) || (step < 0 && n >= last); n += step {
		if len(prod.values) >= r.maxLines {
			r.diags.errorf(pos, "~SEQ generates more than %d lines - stopping", r.maxLines)
			break
		}
		s := strconv.FormatInt(n, 10)
		if hex {
			s = strconv.FormatInt(n, 16)
		}
		prod.values = append(prod.values, []string{s})
	}
	r.pushProducer(prod)
}

// list handles "~LST(var, v1, v2, ...) text" and
// "~LST({v1, v2}, {a, b}, {c, d}) text".
func (r *reader) list(text string, pos Pos) {
	bad := func() { r.diags.errorf(pos, "Invalid ~LST specification '%s'", text) }
	p := strings.TrimLeft(text[4:], " \t")
	if !strings.HasPrefix(p, "(") {
		bad()
		return
	}
	// Split the items at the commas outside braces, up to the ')'.
	var items []string
	depth, startItem, end := 0, 1, -1
	for i := 1; i < len(p) && end < 0; i++ {
		switch p[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth < 0 {
				bad()
				return
			}
		case ',':
			if depth == 0 {
				items = append(items, p[startItem:i])
				startItem = i + 1
			}
		case ')':
			if depth == 0 {
				items = append(items, p[startItem:i])
				end = i
			}
		}
	}
	if end < 0 || len(items) < 2 {
		bad()
		return
	}
	rest := strings.TrimLeft(p[end+1:], " \t")
	group := func(s string) []string {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			var out []string
			for _, f := range strings.Split(s[1:len(s)-1], ",") {
				out = append(out, strings.TrimSpace(f))
			}
			return out
		}
		return []string{s}
	}
	vars := group(items[0])
	for _, v := range vars {
		if !validName(v) {
			bad()
			return
		}
	}
	prod := &producer{pos: pos, vars: vars, text: rest}
	for _, it := range items[1:] {
		it, _, _ = r.substitute(it, pos)
		vals := group(it)
		if len(vals) != len(vars) {
			bad()
			return
		}
		prod.values = append(prod.values, vals)
	}
	r.pushProducer(prod)
}

func (r *reader) pushProducer(p *producer) {
	if s := r.top(); s != nil && len(p.values) > 0 {
		s.prods = append(s.prods, p)
	}
}

func validName(s string) bool {
	if s == "" || !(isAlpha(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// includeKinds are keepalived's include keywords.
var includeKinds = map[string]bool{
	"include": true, "includer": true, "includem": true,
	"includew": true, "includeb": true, "includea": true,
}

// include handles an include line and reports whether text was one.
func (r *reader) include(text string, pos Pos) bool {
	if !strings.Contains(text, "include") {
		return false
	}
	words, _ := splitWords(text)
	if len(words) != 2 || !includeKinds[words[0]] {
		return false
	}
	kind, pattern := words[0], words[1]
	base := pattern
	if !filepath.IsAbs(base) {
		if s := r.top(); s != nil {
			base = filepath.Join(filepath.Dir(s.name), base)
		}
	}
	alts := expandBraces(base)
	var files []string
	missing, nomatch := 0, 0
	for _, a := range alts {
		if strings.ContainsAny(a, "*?[") {
			m, err := r.fsys.Glob(a)
			if err != nil {
				r.diags.warnf(pos, "Error reading config file(s): bad pattern '%s' (%v), skipping.", pattern, err)
				continue
			}
			if len(m) == 0 {
				nomatch++
			}
			files = append(files, m...)
			continue
		}
		if _, err := r.fsys.Stat(a); err != nil {
			missing++
			continue
		}
		files = append(files, a)
	}
	switch {
	case missing > 0 && len(alts) > 1:
		r.diags.warnf(pos, "Some config files missing: \"%s\".", pattern)
	case missing > 0:
		r.diags.warnf(pos, "Config files missing '%s'.", pattern)
	case nomatch > 0 && (kind == "includew" || kind == "includea"):
		r.diags.warnf(pos, "No config files matched '%s'.", pattern)
	case nomatch > 0 && len(files) == 0:
		r.diags.infof(pos, "No config files matched '%s'.", pattern)
	}
	if len(files) > 0 {
		r.openIncluded(files, pos, kind)
	}
	return true
}

// openIncluded opens the first readable file of files, leaving the others
// to follow it.
func (r *reader) openIncluded(files []string, pos Pos, kind string) {
	for i, f := range files {
		st, err := r.fsys.Stat(f)
		if err != nil {
			r.diags.warnf(pos, "Configuration file '%s' open problem (%v) - skipping", f, unwrapPathErr(err))
			continue
		}
		if st.IsDir() {
			r.diags.warnf(pos, "Configuration file '%s/' is a directory - skipping", strings.TrimSuffix(f, "/"))
			continue
		}
		if !st.Mode().IsRegular() || st.Mode()&0o111 != 0 {
			r.diags.warnf(pos, "Configuration file '%s' is not a regular non-executable file - skipping", f)
			continue
		}
		key := fileKey(f)
		var chain []string
		cycle := false
		for _, s := range r.stack {
			chain = append(chain, s.name)
			if s.key == key {
				cycle = true
			}
		}
		if cycle {
			r.diags.errorf(pos, "include cycle: %s includes %s, which is already being read (%s -> %s) - skipping", r.top().name, f, strings.Join(chain, " -> "), f)
			continue
		}
		if len(r.stack) >= maxIncludeDepth {
			r.diags.errorf(pos, "includes nested more than %d deep - skipping %s", maxIncludeDepth, f)
			continue
		}
		data, err := r.fsys.ReadFile(f)
		if err != nil {
			r.diags.warnf(pos, "Configuration file '%s' open problem (%v) - skipping", f, unwrapPathErr(err))
			continue
		}
		r.push(f, data, pos, files[i+1:], kind)
		return
	}
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// expandBraces expands csh brace alternatives, "{a,b}c" to "ac", "bc", as
// glob(3) with GLOB_BRACE does.
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	depth := 0
	var commas []int
	closing := -1
	for i := open; i < len(s) && closing < 0; i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				closing = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if closing < 0 {
		return []string{s}
	}
	prefix, suffix := s[:open], s[closing+1:]
	var alts []string
	prev := open + 1
	for _, c := range append(commas, closing) {
		alts = append(alts, s[prev:c])
		prev = c + 1
	}
	var out []string
	for _, a := range alts {
		out = append(out, expandBraces(prefix+a+suffix)...)
	}
	return out
}

// splitBraces cuts text before its first '{' or '}' outside double quotes,
// leaving the rest as the next line, as read_line does.
func (r *reader) splitBraces(text string, pos Pos) string {
	p := -1
	if text[0] == '{' || text[0] == '}' {
		p = 0
	} else {
		for i := 0; i < len(text); i++ {
			c := text[i]
			if c == '{' || c == '}' {
				p = i
				break
			}
			if c == '"' {
				j := strings.IndexByte(text[i+1:], '"')
				if j < 0 {
					break
				}
				i += j + 1
			}
		}
	}
	if p >= 0 {
		skip := 0
		if p == 0 {
			skip = 1 + len(text[1:]) - len(strings.TrimLeft(text[1:], " \t"))
		}
		if p+skip < len(text) {
			rest := strings.TrimRight(text[p+skip:], " \t")
			if rest != "" {
				r.residue = &line{pos: pos, text: rest}
			}
			text = text[:p+skip]
		}
	}
	return strings.TrimRight(text, " \t")
}

// whiteSpace is keepalived's WHITE_SPACE.
const whiteSpace = " \t\f\n\r\v"

// splitWords splits a line into words as keepalived's alloc_strvec: words
// are separated by white space; a word that starts with '"' runs to the
// next '"', which are removed; any other word ends at white space or a
// '"'. It reports an unmatched quote, and then stops.
func splitWords(s string) (words []string, unmatched bool) {
	i := 0
	for {
		for i < len(s) && strings.IndexByte(whiteSpace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, false
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return words, true
			}
			words = append(words, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := i
		for j < len(s) && strings.IndexByte(whiteSpace+`"`, s[j]) < 0 {
			j++
		}
		words = append(words, s[i:j])
		i = j
	}
}

// splitQuoted splits a string as keepalived's alloc_strvec_quoted_escaped,
// which it uses for script command lines: words are separated by white
// space outside quotes; '"' and '\” quote (and are removed, keeping the
// white space between them); '\' escapes as in C (\a \b \E \f \n \r \t \v,
// \NNN octal, \xHH hex, \cC control) and any other character stands for
// itself.
func splitQuoted(s string) ([]string, error) {
	var words []string
	i := 0
	var quote byte
	for {
		for i < len(s) && strings.IndexByte(whiteSpace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var w []byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, fmt.Errorf("missing escape char at end: '%s'", s)
				}
				var b byte
				b, i = unescape(s, i)
				w = append(w, b)
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				i++
			case quote == 0 && strings.IndexByte(whiteSpace, c) >= 0:
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("String '%s': missing terminating %c", s, quote)
		}
		words = append(words, string(w))
	}
}

// unescape decodes the escape whose character is s[i] (just after the
// '\') and returns the byte and the index after the escape.
func unescape(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		var b byte
		i++
		for i < len(s) && isHex(s[i]) {
			b = b<<4 | hexVal(s[i])
			i++
		}
		return b, i
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		b := c - '0'
		i++
		for k := 0; k < 2 && i < len(s) && s[i] >= '0' && s[i] <= '7'; k++ {
			b = b<<3 + (s[i] - '0')
			i++
		}
		return b, i
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	return c, i + 1
}

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

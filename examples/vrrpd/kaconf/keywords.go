package kaconf

// Support says what the daemon does with a keyword.
type Support int

// Support levels.
const (
	// Supported keywords are honoured as keepalived honours them.
	Supported Support = iota
	// NoEffect keywords are read and do nothing in a VRRP-only daemon:
	// a warning says so.
	NoEffect
	// Refused keywords would change behaviour in a way vrrpkit does not
	// support: an error, with the reason.
	Refused
)

// String returns "supported", "no effect" or "refused".
func (s Support) String() string {
	switch s {
	case Supported:
		return "supported"
	case NoEffect:
		return "no effect"
	case Refused:
		return "refused"
	}
	return "Support(?)"
}

// Keyword describes one keyword of keepalived.conf as kaconf reads it.
type Keyword struct {
	// Block is where the keyword stands: "" at the top level, else the
	// keyword of the enclosing block ("global_defs", "vrrp_instance"...).
	Block string
	// Name is the keyword.
	Name string
	// Args is the least number of words it takes after the keyword;
	// keepalived stops the line with "missing a parameter" below it.
	Args int
	// HasBlock tells whether it opens a block.
	HasBlock bool
	// Default is keepalived's default when the keyword is absent, or
	// what the keyword alone means; "" when there is nothing to say.
	Default string
	// Deprecated names what replaces the keyword, when it is deprecated.
	Deprecated string
	// Support and Reason say what the daemon does with it, and why for
	// NoEffect and Refused; for a Supported keyword Reason is a note.
	Support Support
	Reason  string
}

// blockMode says whether a keyword opens a block.
type blockMode int

const (
	noBlock blockMode = iota
	needBlock
	optBlock
)

// kw is a Keyword with its decoder, in a table of the block it stands in.
// T is what the keyword writes into (*GlobalDefs, *instCtx...).
type kw[T any] struct {
	Keyword
	block blockMode
	// renamed makes the keyword an alias of Deprecated, with keepalived's
	// deprecation warning.
	renamed bool
	// decode reads a Supported keyword once its block and arguments are
	// checked.
	decode func(dc *decoder, x T, n *Node)
	// check, for NoEffect and Refused keywords, validates the value with
	// keepalived's messages and tells whether the keyword's diagnostic
	// applies (a value that changes nothing is accepted).
	check func(dc *decoder, x T, n *Node) bool
}

// table is the keywords of one block.
type table[T any] struct {
	block  string
	order  []*kw[T]
	byName map[string]*kw[T]
}

func newTable[T any](block string, entries ...kw[T]) *table[T] {
	t := &table[T]{block: block, byName: make(map[string]*kw[T], len(entries))}
	for i := range entries {
		e := &entries[i]
		e.Block = block
		e.HasBlock = e.block == needBlock
		if _, dup := t.byName[e.Name]; dup {
			panic("kaconf: keyword " + e.Name + " twice in " + block)
		}
		t.byName[e.Name] = e
		t.order = append(t.order, e)
	}
	return t
}

// keywords returns the table's keywords in order.
func (t *table[T]) keywords() []Keyword {
	out := make([]Keyword, len(t.order))
	for i, e := range t.order {
		out[i] = e.Keyword
	}
	return out
}

// dispatch decodes n with the table: block and arity checks, deprecation,
// then the keyword's decoder or its NoEffect / Refused diagnostic. An
// unknown keyword gets keepalived's warning.
func dispatch[T any](dc *decoder, t *table[T], x T, n *Node) {
	k := t.byName[n.Keyword()]
	if k == nil && n.HasBlock && t.block == "" {
		// At the top level keepalived skips the keyword and its '{', and
		// reads the block's lines as top-level keywords: the '}' too.
		// (Deeper, its '}' would close the enclosing block: dc.unknown
		// refuses that.)
		bare := *n
		bare.HasBlock = false
		dc.unknown(&bare)
		dc.warnf(n, "Unexpected '{' - ignoring")
		for _, c := range n.Block {
			dispatch(dc, t, x, c)
		}
		end := n.End
		if !end.IsValid() {
			end = n.Pos
		}
		dc.diags.warnf(end, "Unknown keyword '}'")
		return
	}
	if k == nil {
		dc.unknown(n)
		return
	}
	switch k.block {
	case needBlock:
		if !dc.block(n) {
			return
		}
	case noBlock:
		dc.noBlock(n)
	}
	if k.renamed {
		dc.warnf(n, "%q is deprecated, please use %q", k.Name, k.Deprecated)
	}
	if k.Args > 0 && !dc.need(n, k.Args) {
		return
	}
	switch k.Support {
	case Supported:
		k.decode(dc, x, n)
	case NoEffect:
		if k.check == nil || k.check(dc, x, n) {
			dc.noEffect(n, k.Reason)
		}
	case Refused:
		if k.check == nil || k.check(dc, x, n) {
			dc.unsupported(n, k.Reason)
		}
	}
}

// Entry constructors, so that a table reads one keyword per line.

// key is a Supported keyword taking at least args words.
func key[T any](name string, args int, def string, decode func(*decoder, T, *Node)) kw[T] {
	return kw[T]{Keyword: Keyword{Name: name, Args: args, Default: def}, decode: decode}
}

// noEffect is a keyword that does nothing here, for the reason why.
func noEffectKey[T any](name, why string) kw[T] {
	return kw[T]{Keyword: Keyword{Name: name, Support: NoEffect, Reason: why}}
}

// refused is a keyword vrrpkit does not support, for the reason why.
func refusedKey[T any](name, why string) kw[T] {
	return kw[T]{Keyword: Keyword{Name: name, Support: Refused, Reason: why}}
}

// withBlock makes the keyword open a block (needed, or optional).
func (k kw[T]) withBlock(m blockMode) kw[T] { k.block = m; return k }

// when gives a NoEffect or Refused keyword a value check.
func (k kw[T]) when(check func(*decoder, T, *Node) bool) kw[T] { k.check = check; return k }

// deprecated documents what replaces the keyword; alias makes it read as
// that keyword with keepalived's deprecation warning.
func (k kw[T]) deprecated(by string, alias bool) kw[T] {
	k.Deprecated, k.renamed = by, alias
	return k
}

// Keywords lists every keyword kaconf reads, block by block, in the order
// of keepalived's manual.
func Keywords() []Keyword {
	var out []Keyword
	out = append(out, topKeywords.keywords()...)
	out = append(out, globalKeywords.keywords()...)
	out = append(out, instanceKeywords.keywords()...)
	out = append(out, authKeywords.keywords()...)
	out = append(out, scriptKeywords.keywords()...)
	out = append(out, trackProcessKeywords.keywords()...)
	out = append(out, trackFileKeywords.keywords()...)
	out = append(out, syncGroupKeywords.keywords()...)
	out = append(out, virtualServerKeywords.keywords()...)
	out = append(out, realServerKeywords.keywords()...)
	out = append(out, checkerKeywords.keywords()...)
	out = append(out, smtpHostKeywords.keywords()...)
	out = append(out, urlKeywords.keywords()...)
	return out
}

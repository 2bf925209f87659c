package kaconf

import (
	"strings"
)

// Node is one statement of a configuration: a keyword, its arguments, and
// the statements of the block that follows it, if any.
type Node struct {
	// Pos is where the statement is.
	Pos Pos
	// Words are the keyword and its arguments, split as keepalived splits
	// them: at white space, with a word in double quotes kept whole and
	// its quotes removed.
	Words []string
	// Raw is the statement's text after comments, conditional lines and
	// parameter substitution, as keepalived hands it to the keywords that
	// parse it again (script command lines).
	Raw string
	// HasBlock reports whether a '{' ... '}' block follows the statement.
	HasBlock bool
	// Block holds the statements of that block.
	Block []*Node
	// End is where the block's '}' is (the zero Pos if it is missing).
	End Pos
}

// Keyword returns the first word, or "".
func (n *Node) Keyword() string {
	if len(n.Words) == 0 {
		return ""
	}
	return n.Words[0]
}

// Arg returns word i (the keyword is word 0), or "" when there is none.
func (n *Node) Arg(i int) string {
	if i < len(n.Words) {
		return n.Words[i]
	}
	return ""
}

// Walk calls fn for each node of nodes and of their blocks, depth first,
// in order.
func Walk(nodes []*Node, fn func(*Node)) {
	for _, n := range nodes {
		fn(n)
		Walk(n.Block, fn)
	}
}

// Parse reads a configuration: src is the top file, named name (its
// includes are found through opts.FS relative to name's directory). It
// returns the statements and every problem found, and never fails: a
// broken configuration gives diagnostics and what could be read.
func Parse(name string, src []byte, opts LoadOptions) ([]*Node, Diagnostics) {
	var diags diagSink
	nodes := parse(name, src, &opts, &diags)
	return nodes, diags.list
}

func parse(name string, src []byte, opts *LoadOptions, diags *diagSink) []*Node {
	fsys := opts.FS
	if fsys == nil {
		fsys = OSFileSystem{}
	}
	r := newReader(fsys, diags, opts)
	r.push(name, src, Pos{}, nil, "")
	return buildTree(r, diags)
}

// readByParent reports whether keepalived's parent process reads the
// top-level statement of line (global_defs and the daemon keywords); the
// child processes read every other statement again from the parent's copy
// of the configuration.
func readByParent(line string) bool {
	kw, _, _ := strings.Cut(line, " ")
	kw, _, _ = strings.Cut(kw, "\t")
	switch kw {
	case "global_defs", "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets",
		"instance", "use_pid_dir", "linkbeat_use_polling", "child_wait_time":
		return true
	}
	return false
}

// buildTree assembles the logical lines into statements and blocks.
func buildTree(r *reader, diags *diagSink) []*Node {
	type frame struct {
		owner *Node // nil for the top level and for a stray block
		nodes []*Node
		// parent reports a block that keepalived's parent process reads
		// (global_defs), not a child from its copy of the configuration.
		parent bool
	}
	stack := []*frame{{}}
	// last is the statement that a '{' on the next line opens.
	var last *Node
	for {
		ln, ok := r.next()
		if !ok {
			break
		}
		cur := stack[len(stack)-1]
		switch ln.text {
		case "{":
			if last != nil && !last.HasBlock {
				last.HasBlock = true
				stack = append(stack, &frame{owner: last, parent: cur.parent || (len(stack) == 1 && last.Keyword() == "global_defs")})
			} else {
				diags.errorf(ln.pos, "Unexpected '{' - ignoring the block it opens")
				stack = append(stack, &frame{owner: &Node{Pos: ln.pos, HasBlock: true}})
			}
			last = nil
			continue
		case "}":
			last = nil
			if len(stack) == 1 {
				diags.errorf(ln.pos, "Extra '}' found")
				continue
			}
			// A stray block's owner is in no list: it is dropped.
			stack = stack[:len(stack)-1]
			cur.owner.Block = cur.nodes
			cur.owner.End = ln.pos
			continue
		}
		if !cur.parent && !(len(stack) == 1 && readByParent(ln.text)) {
			ln.text = r.secondRead(ln.text, ln.pos)
			if ln.text == "" {
				continue
			}
		}
		words, unmatched := splitWords(ln.text)
		if unmatched && !r.quoteErr[ln.pos] {
			diags.errorf(ln.pos, "Unmatched quote: '%s'", ln.text)
		}
		if len(words) == 0 {
			continue
		}
		n := &Node{Pos: ln.pos, Words: words, Raw: ln.text}
		cur.nodes = append(cur.nodes, n)
		last = n
	}
	for len(stack) > 1 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		f.owner.Block = f.nodes
		what := "block"
		if f.owner.Words != nil {
			what = "block '" + strings.Join(f.owner.Words, " ") + "'"
		}
		diags.errorf(f.owner.Pos, "missing '}': %s is not closed at the end of the configuration (keepalived: There are missing '}'s or extra '{'s)", what)
	}
	return stack[0].nodes
}

package kaconf

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// dumpTree prints statements one per line, "FILE:LINE: words", indented by
// block depth, with the file's base name and the words joined by '|'.
func dumpTree(nodes []*Node) string {
	var b strings.Builder
	var walk func([]*Node, int)
	walk = func(ns []*Node, depth int) {
		for _, n := range ns {
			fmt.Fprintf(&b, "%s%s:%d: %s", strings.Repeat("  ", depth), filepath.Base(n.Pos.File), n.Pos.Line, strings.Join(n.Words, "|"))
			if n.HasBlock {
				b.WriteString(" {")
			}
			b.WriteByte('\n')
			walk(n.Block, depth+1)
		}
	}
	walk(nodes, 0)
	return b.String()
}

// dumpDiags prints diagnostics one per line, "SEVERITY FILE:LINE: message",
// with the file's base name.
func dumpDiags(ds Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s %s:%d: %s\n", d.Severity, filepath.Base(d.File), d.Line, d.Message)
	}
	return b.String()
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    MapFS // "/k/main.conf" is the top file
		configID string
		tree     string
		diags    string
	}{{
		name: "nested blocks, braces anywhere",
		files: MapFS{"/k/main.conf": `a {
  b { c }
  d
  {
    e { f { g } }
  }
}
h { i
}`},
		tree: `main.conf:1: a {
  main.conf:2: b {
    main.conf:2: c
  main.conf:3: d {
    main.conf:5: e {
      main.conf:5: f {
        main.conf:5: g
main.conf:8: h {
  main.conf:8: i
`,
	}, {
		name: "comments after words, and whole-line comments",
		files: MapFS{"/k/main.conf": `# comment
! comment
a b # comment
a b!comment
a "b # not a comment" c ! comment
  a   b		c   # blanks and tabs
a \#x
`},
		tree: `main.conf:3: a|b
main.conf:4: a|b
main.conf:5: a|b # not a comment|c
main.conf:6: a|b|c
main.conf:7: a
`,
		diags: "warning main.conf:7: 'a #x' is cut to 'a': keepalived 2.2.7 reads this section twice, and a '#' or '!' from \\#, \\!, ${_HASH}, ${_BANG} or a parameter starts a comment the second time (put it inside double quotes)\n",
	}, {
		name: "escaped comment characters work in global_defs",
		files: MapFS{"/k/main.conf": `global_defs {
  router_id a\#b
}
`},
		tree: `main.conf:1: global_defs {
  main.conf:2: router_id|a#b
`,
	}, {
		name: "quotes",
		files: MapFS{"/k/main.conf": `a "b c" d
a "b"c
a b"c d"
a "{ not a block }"
a "" b
a 'b c'
`},
		tree: `main.conf:1: a|b c|d
main.conf:2: a|b|c
main.conf:3: a|b|c d
main.conf:4: a|{ not a block }
main.conf:5: a||b
main.conf:6: a|'b|c'
`,
	}, {
		name:  "unterminated quote",
		files: MapFS{"/k/main.conf": "a \"b c\nd\n"},
		tree: `main.conf:1: a
main.conf:2: d
`,
		diags: "error main.conf:1: Unterminated quote 'a \"b c'\n",
	}, {
		name:  "no line continuation",
		files: MapFS{"/k/main.conf": "a \\\n  b\n"},
		tree: `main.conf:1: a\
main.conf:2: b
`,
	}, {
		name: "include relative to the including file, glob, braces",
		files: MapFS{
			"/k/main.conf": `a
include sub/x.conf
include conf.d/*.conf
include {p,q}.conf
b {
  include inner.conf
}
`,
			"/k/sub/x.conf":    "x1\ninclude y.conf\nx2\n",
			"/k/sub/y.conf":    "y1\n",
			"/k/conf.d/2.conf": "two\n",
			"/k/conf.d/1.conf": "one\n",
			"/k/p.conf":        "p\n",
			"/k/q.conf":        "q\n",
			"/k/inner.conf":    "c d\ne {\n}\n",
		},
		tree: `main.conf:1: a
x.conf:1: x1
y.conf:1: y1
x.conf:3: x2
1.conf:1: one
2.conf:1: two
p.conf:1: p
q.conf:1: q
main.conf:5: b {
  inner.conf:1: c|d
  inner.conf:2: e {
`,
	}, {
		name: "a block may span files",
		files: MapFS{
			"/k/main.conf": "a {\ninclude body.conf\n",
			"/k/body.conf": "b\n}\nc\n",
		},
		tree: `main.conf:1: a {
  body.conf:1: b
body.conf:3: c
`,
	}, {
		name: "missing includes",
		files: MapFS{"/k/main.conf": `include none.conf
include none/*.conf
includew none/*.conf
include {main,none}.conf
`},
		diags: `warning main.conf:1: Config files missing 'none.conf'.
info main.conf:2: No config files matched 'none/*.conf'.
warning main.conf:3: No config files matched 'none/*.conf'.
warning main.conf:4: Some config files missing: "{main,none}.conf".
error main.conf:4: include cycle: /k/main.conf includes /k/main.conf, which is already being read (/k/main.conf -> /k/main.conf) - skipping
`,
	}, {
		name: "include cycle",
		files: MapFS{
			"/k/main.conf": "a\ninclude b.conf\nz\n",
			"/k/b.conf":    "b\ninclude c.conf\n",
			"/k/c.conf":    "c\ninclude main.conf\n",
		},
		tree: `main.conf:1: a
b.conf:1: b
c.conf:1: c
main.conf:3: z
`,
		diags: "error c.conf:2: include cycle: /k/c.conf includes /k/main.conf, which is already being read (/k/main.conf -> /k/b.conf -> /k/c.conf -> /k/main.conf) - skipping\n",
	}, {
		name:  "the same file twice is no cycle",
		files: MapFS{"/k/main.conf": "include b.conf\ninclude b.conf\n", "/k/b.conf": "b\n"},
		tree:  "b.conf:1: b\nb.conf:1: b\n",
	}, {
		name:  "include needs exactly one argument",
		files: MapFS{"/k/main.conf": "include a b\n"},
		tree:  "main.conf:1: include|a|b\n",
	}, {
		name:  "missing and extra braces",
		files: MapFS{"/k/main.conf": "a {\n b {\n c\n}\n}\n}\nd {\n"},
		tree: `main.conf:1: a {
  main.conf:2: b {
    main.conf:3: c
main.conf:7: d {
`,
		diags: `error main.conf:6: Extra '}' found
error main.conf:7: missing '}': block 'd' is not closed at the end of the configuration (keepalived: There are missing '}'s or extra '{'s)
`,
	}, {
		name:  "unexpected block",
		files: MapFS{"/k/main.conf": "{\n a\n}\nb\n"},
		tree:  "main.conf:4: b\n",
		diags: "error main.conf:1: Unexpected '{' - ignoring the block it opens\n",
	}, {
		name: "conditional lines",
		files: MapFS{"/k/main.conf": `@high a 1
@low a 2
@^high b 1
@^low b 2
@high
c
`},
		configID: "high",
		tree: `main.conf:1: a|1
main.conf:4: b|2
main.conf:6: c
`,
	}, {
		name: "conditional lines without a config id",
		files: MapFS{"/k/main.conf": `@high a 1
@^high b 1
`},
		tree: "main.conf:2: b|1\n",
	}, {
		name: "parameters",
		files: MapFS{"/k/main.conf": `$A=1
$B=x${A}y
$EMPTY=
$COND=@high
a $A $B ${B}z $Bz $A,$A $UNDEF
b$EMPTY c
$COND d
$A=2
e $A ${_INSTANCE} ${_HASH}x
`},
		configID: "high",
		tree: `main.conf:5: a|1|x1y|x1yz|$Bz|1,1|$UNDEF
main.conf:6: b|c
main.conf:7: d
main.conf:9: e|2|high
`,
		diags: "warning main.conf:9: 'e 2 high #x' is cut to 'e 2 high': keepalived 2.2.7 reads this section twice, and a '#' or '!' from \\#, \\!, ${_HASH}, ${_BANG} or a parameter starts a comment the second time (put it inside double quotes)\n",
	}, {
		name: "multi-line parameter",
		files: MapFS{"/k/main.conf": `$INST= \
inst I${N} { \
  @high prio 1 \
  @^high prio 2 \
}
$N=1
$INST
$N=2
$INST
`},
		configID: "high",
		tree: `main.conf:7: inst|I1 {
  main.conf:7: prio|1
main.conf:9: inst|I2 {
  main.conf:9: prio|1
`,
	}, {
		name: "~SEQ and ~LST",
		files: MapFS{"/k/main.conf": `~SEQ(N, 3) a $N
~SEQ(N, 5, -2, 1) b ${N}
~SEQx(N, 9, 3, 15) c $N
~LST(X, p, q) d $X
~LST({X, Y}, {1, 2}, {3, 4}) e $X $Y
~SEQ(I, 1, 2) ~LST(J, a, b) f ${I}$J $I$J
~SEQ(bad) g
`},
		tree: `main.conf:1: a|1
main.conf:1: a|2
main.conf:1: a|3
main.conf:2: b|5
main.conf:2: b|3
main.conf:2: b|1
main.conf:3: c|9
main.conf:3: c|c
main.conf:3: c|f
main.conf:4: d|p
main.conf:4: d|q
main.conf:5: e|1|2
main.conf:5: e|3|4
main.conf:6: f|1a|$Ia
main.conf:6: f|1b|$Ib
main.conf:6: f|2a|$Ia
main.conf:6: f|2b|$Ib
`,
		diags: "error main.conf:7: Invalid ~SEQ definition '~SEQ(bad) g'\n",
	}, {
		name:  "substitution loop",
		files: MapFS{"/k/main.conf": "$A=$A\nx $A\ny\n"},
		tree:  "main.conf:2: x|$A\nmain.conf:3: y\n",
		diags: "error main.conf:2: parameter substitution does not terminate on line 'x $A'\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			nodes, diags := Parse("/k/main.conf", []byte(tc.files["/k/main.conf"]), LoadOptions{FS: tc.files, ConfigID: tc.configID})
			if got := dumpTree(nodes); got != tc.tree {
				t.Errorf("tree:\n%s\nwant:\n%s", got, tc.tree)
			}
			if got := dumpDiags(diags); got != tc.diags {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", got, tc.diags)
			}
		})
	}
}

func TestParseRaw(t *testing.T) {
	nodes, _ := Parse("/k/main.conf", []byte("a { script \"x y\" z } # c\n"), LoadOptions{FS: MapFS{}})
	if len(nodes) != 1 || len(nodes[0].Block) != 1 {
		t.Fatalf("tree:\n%s", dumpTree(nodes))
	}
	if got, want := nodes[0].Block[0].Raw, `script "x y" z`; got != want {
		t.Errorf("Raw %q, want %q", got, want)
	}
	if got, want := nodes[0].Raw, "a"; got != want {
		t.Errorf("Raw %q, want %q", got, want)
	}
}

func TestSplitQuoted(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: `a b  c`, want: []string{"a", "b", "c"}},
		{in: `a "b c" d`, want: []string{"a", "b c", "d"}},
		{in: `abcd" efg h jkl "mnop`, want: []string{"abcd efg h jkl mnop"}},
		{in: `a 'b "c" d' e`, want: []string{"a", `b "c" d`, "e"}},
		{in: `a\ b \"c\" \x41\101\n\t\cA\E\z`, want: []string{"a b", `"c"`, "AA\n\t\x01\x1bz"}},
		{in: `a "b`, err: true},
		{in: `a\`, err: true},
	} {
		got, err := splitQuoted(tc.in)
		if (err != nil) != tc.err || (!tc.err && strings.Join(got, "|") != strings.Join(tc.want, "|")) {
			t.Errorf("splitQuoted(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestExpandBraces(t *testing.T) {
	for in, want := range map[string]string{
		"a":                    "a",
		"{a,b}.conf":           "a.conf b.conf",
		"{foo/{,cat,dog},bar}": "foo/ foo/cat foo/dog bar",
		"x{a}y":                "xay",
		"x{a":                  "x{a",
	} {
		if got := strings.Join(expandBraces(in), " "); got != want {
			t.Errorf("expandBraces(%q) = %q, want %q", in, got, want)
		}
	}
}

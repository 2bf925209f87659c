package kaconf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vrrpkit/vrrpkit/internal/testenv"
)

// FuzzParse feeds arbitrary text to the reader and the decoder: they must
// not panic, must not hang, and must give every statement and every
// diagnostic a position. The seeds are the corpus configurations and a
// few of the reader's corners. Includes are served from memory, so the
// fuzzer never reads the host's files.
//
//	go test ./examples/vrrpd/kaconf -run XXX -fuzz FuzzParse
func FuzzParse(f *testing.F) {
	dir := testenv.SharedTestdata(f, "keepalived-configs")
	files, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"$A=$A\nx $A\n",
		"$M= \\\na ${N} { \\\n@x b \\\n}\n$N=1\n$M\n",
		"~SEQ(N, 1, 3) ~LST(J, a, {b}) x ${N}$J\n",
		"include inc.conf\ninclude loop.conf\ninclude {inc,none}*.conf\n",
		"vrrp_instance A { interface eth0 } } {\n\"unterminated\n",
		"a \\#b \"c # d\" e!f \\\n",
		"@^x @y $Z=1\n${_RANDOM 5 2} ${_PWD} ${_INSTANCE}\n",
	} {
		f.Add([]byte(s))
	}
	fsys := MapFS{
		"/k/inc.conf":  "vrrp_script s {\n script /bin/true\n}\n",
		"/k/loop.conf": "include main.conf\n",
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		opts := LoadOptions{FS: fsys, ConfigID: "x", MaxLines: 2000}
		nodes, diags := Parse("/k/main.conf", src, opts)
		Walk(nodes, func(n *Node) {
			if !n.Pos.IsValid() || n.Pos.File == "" || len(n.Words) == 0 {
				t.Fatalf("node without a position or words: %+v", n)
			}
		})
		cfg, diags2 := LoadBytes("/k/main.conf", src, opts)
		if cfg == nil {
			t.Fatal("no Config")
		}
		for _, ds := range []Diagnostics{diags, diags2, cfg.Diagnostics()} {
			for _, d := range ds {
				if d.Line <= 0 || d.File == "" || d.Message == "" {
					t.Fatalf("diagnostic without a position or message: %#v", d)
				}
			}
		}
	})
}

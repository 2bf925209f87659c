package health

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzParseProcStat feeds parseProcStat arbitrary bytes, which must not
// make it panic, and stat lines built as the kernel writes them from a
// fuzzed name, state and start time, which it must read back exactly: a
// process chooses its own name, and may put spaces and parentheses in it.
func FuzzParseProcStat(f *testing.F) {
	f.Add([]byte("1 (systemd) S 0 1 1 0 -1 4194560\n"), "a) b (c", byte('R'), uint64(99))
	f.Add([]byte("42 ("), ") Z 1 (", byte('Z'), uint64(0))
	f.Fuzz(func(t *testing.T, junk []byte, comm string, state byte, start uint64) {
		parseProcStat(junk)

		// The kernel's task name: at most 15 bytes, no NUL or newline.
		comm = strings.NewReplacer("\x00", "", "\n", "").Replace(comm)
		if len(comm) > 15 {
			comm = comm[:15]
		}
		// A state is a letter (R, S, D, Z, T, t, X, I...).
		if (state < 'A' || state > 'Z') && (state < 'a' || state > 'z') {
			state = 'S'
		}
		fields := make([]string, 0, 19)
		for i := 4; i < 22; i++ {
			fields = append(fields, fmt.Sprint(i))
		}
		line := fmt.Sprintf("4242 (%s) %c %s %d 0 0\n", comm, state, strings.Join(fields, " "), start)
		gotComm, gotState, gotStart, ok := parseProcStat([]byte(line))
		if !ok || gotComm != comm || gotState != state || gotStart != start {
			t.Errorf("parseProcStat(%q) = %q, %q, %d, %v; want %q, %q, %d, true", line, gotComm, gotState, gotStart, ok, comm, state, start)
		}
	})
}

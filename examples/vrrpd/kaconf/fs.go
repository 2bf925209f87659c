package kaconf

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// MaxFileSize bounds the size of one configuration file: a larger file
// (or a device such as /dev/zero named by an include) is refused.
const MaxFileSize = 16 << 20

// FileSystem is how the reader reaches configuration files. Paths are
// operating system paths, as in keepalived.conf. OSFileSystem is the real
// one; tests and fuzzing use an in-memory one.
type FileSystem interface {
	// Stat returns the file's information, following symbolic links.
	Stat(name string) (fs.FileInfo, error)
	// ReadFile returns the contents of a regular file.
	ReadFile(name string) ([]byte, error)
	// Glob returns the names matching pattern (filepath.Match syntax),
	// sorted, or none.
	Glob(pattern string) ([]string, error)
}

// OSFileSystem is the host's file system.
type OSFileSystem struct{}

// Stat calls os.Stat.
func (OSFileSystem) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }

// Glob calls filepath.Glob.
func (OSFileSystem) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// ReadFile reads a regular file of at most MaxFileSize bytes.
func (OSFileSystem) ReadFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, MaxFileSize)
	}
	return b, nil
}

// MapFS is an in-memory FileSystem: file names (cleaned, as filepath.Clean
// leaves them) to contents. Every file is a regular, non-executable file;
// the directories are those the names imply. It serves tests and fuzzing.
type MapFS map[string]string

// mapInfo is the fs.FileInfo of a MapFS entry.
type mapInfo struct {
	name string
	size int64
	dir  bool
}

func (i mapInfo) Name() string { return filepath.Base(i.name) }
func (i mapInfo) Size() int64  { return i.size }
func (i mapInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (i mapInfo) ModTime() time.Time { return time.Time{} }
func (i mapInfo) IsDir() bool        { return i.dir }
func (i mapInfo) Sys() any           { return nil }

// Stat reports a file of m, or a directory that holds one.
func (m MapFS) Stat(name string) (fs.FileInfo, error) {
	name = filepath.Clean(name)
	if s, ok := m[name]; ok {
		return mapInfo{name: name, size: int64(len(s))}, nil
	}
	for f := range m {
		if d := filepath.Dir(f); d == name || isUnder(f, name) {
			return mapInfo{name: name, dir: true}, nil
		}
	}
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

// ReadFile returns the contents of a file of m.
func (m MapFS) ReadFile(name string) ([]byte, error) {
	if s, ok := m[filepath.Clean(name)]; ok {
		return []byte(s), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// Glob matches pattern against the files of m and their directories.
func (m MapFS) Glob(pattern string) ([]string, error) {
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, err
	}
	pattern = filepath.Clean(pattern)
	seen := map[string]bool{}
	var out []string
	for f := range m {
		for p := f; p != "." && p != string(filepath.Separator) && p != ""; p = filepath.Dir(p) {
			if ok, _ := filepath.Match(pattern, p); ok && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			if filepath.Dir(p) == p {
				break
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func isUnder(f, dir string) bool {
	rel, err := filepath.Rel(dir, f)
	return err == nil && rel != "." && !filepath.IsAbs(rel) && len(rel) > 0 && rel[0] != '.'
}

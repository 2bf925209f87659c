package kaconf

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strings"
)

// LoadOptions tune how a configuration is read.
type LoadOptions struct {
	// ConfigID selects the conditional lines: "@ID line" is kept when ID
	// is ConfigID, "@^ID line" when it is not (keepalived's -i option).
	// keepalived's default is the host name up to its first dot (see
	// DefaultConfigID); the empty string here matches no "@ID" line.
	// It is also ${_INSTANCE}.
	ConfigID string
	// FS reads the configuration files; nil means OSFileSystem.
	FS FileSystem
	// Host, when set, checks the scripts and the interfaces against the
	// host as keepalived does when it starts: a tracked script whose
	// command is missing is disabled ("Disabling track script ... since
	// not found/accessible"), the user keepalived_script is looked up as
	// the default script user, and the interfaces the file names must
	// exist ("WARNING - interface eth1 for vrrp_instance VI_1 doesn't
	// exist") unless dynamic_interfaces or net_namespace is set. When nil,
	// the result depends on the configuration alone: every script and
	// interface is taken to exist, and scripts to run as root unless a
	// user is configured.
	Host Host
	// RandomSeed seeds ${_RANDOM}.
	RandomSeed uint64
	// MaxLines bounds the lines ~SEQ, ~LST and multi-line parameters may
	// generate; 0 means DefaultMaxLines.
	MaxLines int
}

// Host is what keepalived asks the host about scripts and interfaces at
// startup.
type Host interface {
	// FindScript returns nil when the command can be run: an executable
	// regular file, searched in $PATH when the name has no '/'.
	FindScript(command string) error
	// UserExists reports whether the named user exists.
	UserExists(name string) bool
	// FindInterface returns nil when the named network interface exists.
	FindInterface(name string) error
}

// OSHost is the Host of the running system.
type OSHost struct{}

// FindScript looks the command up as keepalived does.
func (OSHost) FindScript(command string) error {
	if !strings.Contains(command, "/") {
		_, err := exec.LookPath(command)
		return err
	}
	st, err := os.Stat(command)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: not an executable regular file", command)
	}
	return nil
}

// UserExists calls user.Lookup.
func (OSHost) UserExists(name string) bool {
	_, err := user.Lookup(name)
	return err == nil
}

// FindInterface calls net.InterfaceByName: it looks in the network
// namespace of the calling thread.
func (OSHost) FindInterface(name string) error {
	_, err := net.InterfaceByName(name)
	return err
}

// DefaultConfigID returns keepalived's default config id: the host name up
// to its first dot.
func DefaultConfigID() (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("kaconf: config id: %w", err)
	}
	h, _, _ = strings.Cut(h, ".")
	return h, nil
}

// Load reads the keepalived.conf at path, its includes, and returns the
// configuration as keepalived 2.2.7 would run it, with every problem
// found. The error is only for a top file that cannot be read; anything
// else is a Diagnostic, and the Config holds what could be read. A
// configuration whose diagnostics hold an Error should not be run.
func Load(path string, opts LoadOptions) (*Config, Diagnostics, error) {
	fsys := opts.FS
	if fsys == nil {
		fsys = OSFileSystem{}
	}
	st, err := fsys.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kaconf: %w", err)
	}
	if st.IsDir() {
		return nil, nil, fmt.Errorf("kaconf: %s: %w", path, errIsDir)
	}
	src, err := fsys.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("kaconf: %w", err)
	}
	cfg, diags := LoadBytes(path, src, opts)
	if st.Mode()&0o111 != 0 {
		// keepalived refuses to start with it.
		diags = append(Diagnostics{{File: path, Line: 1, Severity: Error,
			Message: fmt.Sprintf("Configuration file '%s' is not a regular non-executable file", path)}}, diags...)
	}
	return cfg, diags, nil
}

var errIsDir = fmt.Errorf("is a directory: %w", fs.ErrInvalid)

// LoadBytes is Load of a top file already read: src named name, whose
// includes are read through opts.FS.
func LoadBytes(name string, src []byte, opts LoadOptions) (*Config, Diagnostics) {
	var diags diagSink
	nodes := parse(name, src, &opts, &diags)
	dc := newDecoder(&opts, &diags)
	dc.all = nodes
	dc.decode(nodes)
	dc.complete()
	disabled := dc.cfg.diagnostics(&diags, opts.Host)
	dc.cfg.prune(disabled)
	dc.syncWeights()
	return dc.cfg, diags.list
}

// IsNotExist reports whether err, from Load, means the file is missing.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

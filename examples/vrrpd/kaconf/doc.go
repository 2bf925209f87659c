// Package kaconf reads keepalived.conf, as keepalived 2.2.7 does, for the
// reference daemon examples/vrrpd, which runs an existing keepalived
// configuration unchanged on vrrpkit.
//
// # Reading
//
// Load reads a file and its includes and returns a Config and its
// Diagnostics. Parse gives the statements (Node) for tools that need the
// syntax only. The syntax is keepalived's (lib/parser.c), including the
// parts its manual calls advanced:
//
//   - words separated by blanks; a word starting with a double quote runs
//     to the next one; blocks in braces, nested, with the braces anywhere
//     on a line ("a { b }" is three statements);
//   - comments from '#' or '!' to the end of the line, also right after a
//     word, except inside double quotes ("\#" is a literal '#');
//   - no line continuation (a trailing '\' only continues a multi-line
//     parameter definition);
//   - include, includer, includem, includew, includeb and includea, with
//     glob wildcards and csh braces, relative to the directory of the
//     including file; an include cycle is an error (keepalived would
//     recurse until it runs out of file descriptors);
//   - conditional lines "@ID ..." and "@^ID ..." (LoadOptions.ConfigID,
//     keepalived's -i);
//   - parameters "$NAME=VALUE", multi-line ones, "$NAME" and "${NAME}"
//     substitution, the predefined ${_PWD}, ${_INSTANCE}, ${_RANDOM},
//     ${_HASH} and ${_BANG}, and the ~SEQ and ~LST repetitions.
//
// Every node and every Diagnostic has a position, FILE:LINE. Reading never
// stops at the first problem and never panics; a Diagnostic is printed as
// "FILE:LINE: message".
//
// # Meaning
//
// The Config holds every keyword of the VRRP part of keepalived.conf that
// vrrpkit can honour, with keepalived's ranges and defaults, and the
// values keepalived derives (the priority of "state MASTER" alone is 255,
// advert_int is rounded to whole seconds for VRRPv2, authentication is
// dropped for VRRPv3, ...). The diagnostics keep keepalived's wording
// where keepalived reports the same thing ("Truncating auth_pass to 8
// characters", "unknown state 'SLAVE', defaulting to BACKUP", "Unknown
// keyword 'lvs_id'", "Ignoring track_interface eth0 since own interface",
// "nopreempt will not work with initial state MASTER - clearing", the
// SECURITY VIOLATION, ...).
//
// The severities say what a daemon should do:
//
//   - Error: the configuration cannot run as keepalived would run it: a
//     syntax error, a condition keepalived treats as fatal (a duplicate
//     VRID, an instance without a virtual_router_id), or a keyword that
//     would change behaviour and that vrrpkit does not support (auth_type
//     AH, virtual_routes, BFD, ...). Nothing that changes
//     behaviour is ignored silently.
//   - Warning: keepalived runs it, and so do we, but not as written:
//     keepalived's own warnings, unknown keywords, and keywords that have
//     no effect in a VRRP-only daemon ("keyword smtp_alert has no effect
//     here").
//   - Info: a remark.
//
// The LVS sections (virtual_server, virtual_server_group) are read into
// their own types for the pool and IPVS support; what of them examples/lvs
// cannot do is refused like the rest.
//
// Config.Diagnostics checks the cross references of a Config (tracks of
// undefined scripts, sync group members, duplicate VRIDs, script
// security); Load includes its results.
package kaconf

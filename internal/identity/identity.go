// Package identity names a Notifier by its integration type and console
// name, so that printing one with any fmt verb shows only those.
package identity

import "fmt"

// Identity names a Notifier: its integration type and the name it has in the
// console. Destination Notifiers embed it, so that printing one with any fmt
// verb shows "type(name)" and never the config or a client it holds.
type Identity struct {
	typ, name string
}

// New returns the Identity of an integration.
func New(typ, name string) Identity { return Identity{typ: typ, name: name} }

// Type returns the integration type, e.g. "slack".
func (id Identity) Type() string { return id.typ }

// Name returns the integration's name in the console.
func (id Identity) Name() string { return id.name }

// String returns "type(name)".
func (id Identity) String() string { return fmt.Sprintf("%s(%q)", id.typ, id.name) }

// GoString returns the same as String, so %#v shows no field.
func (id Identity) GoString() string { return id.String() }

// Format prints String for every verb.
func (id Identity) Format(f fmt.State, _ rune) { fmt.Fprint(f, id.String()) }

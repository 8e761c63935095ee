package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	ttemplate "text/template"
	"text/template/parse"
	"time"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

// The body pattern is a text/template, which is not a sandbox: unchecked, a
// pattern could loop for ever (range over a large number, recursive
// templates) or grow a value without bound (nested html, print $x $x in a
// loop, printf reusing one argument thousands of times with %[1]s). A
// pattern is therefore held to a bounded subset, checked at parse time,
// and every render runs on a byte budget:
//
//   - no define, template or block (no recursion);
//   - range only over the event's own lists, .Tags and .Details (or $.Tags,
//     $.Details), and never nested;
//   - printf widths and precisions of at most maxFormatWidth, and no '*';
//   - the event is cut to fit MaxBodyBytes as JSON before it is rendered,
//     so no field is larger than a body;
//   - before a function builds its string, the most it could produce from
//     its arguments (each use of an argument counted, times the most its
//     escaping can grow a byte) must fit what is left of renderBudget, and
//     what it produced is charged after; a call that does not fit stops
//     the render before it allocates, so a render allocates a small
//     multiple of renderBudget at most, whatever the event holds. The
//     output itself stops at MaxBodyBytes as it is written.
const (
	// renderBudget bounds the bytes that the functions of one render may
	// produce, output not included (that is bounded by MaxBodyBytes).
	renderBudget = 4 * MaxBodyBytes
	// maxFormatWidth bounds a printf width or precision.
	maxFormatWidth = 256
)

// The most one input byte can grow to in each function's output: json and
// js write a control character as \u00XX, html writes " as &#34;,
// urlquery a byte as %XX.
const (
	growJSON     = 6
	growJS       = 6
	growHTML     = 5
	growURLQuery = 3
)

// errBudget is returned when a render goes past its budget.
var errBudget = fmt.Errorf("the pattern produces more than %d KiB while rendering", renderBudget>>10)

// pattern is a parsed body pattern.
type pattern struct {
	tmpl *ttemplate.Template
}

// parsePattern parses and checks a body pattern.
func parsePattern(src string) (*pattern, error) {
	if len(src) > MaxPatternBytes {
		return nil, fmt.Errorf("must be at most %d bytes (it has %d)", MaxPatternBytes, len(src))
	}
	// Functions are bound per render (to a budget); these stand-ins only
	// declare the names for Parse.
	t, err := ttemplate.New("body_pattern").Funcs(patternFuncs(nil)).Option("missingkey=zero").Parse(src)
	if err != nil {
		return nil, fmt.Errorf("does not parse: %s", cleanTemplateError(err))
	}
	if len(t.Templates()) > 1 {
		return nil, errors.New("must not define templates ({{define}} and {{block}} are not supported)")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return &pattern{tmpl: t}, nil
	}
	if err := checkNode(t.Tree.Root, false); err != nil {
		return nil, err
	}
	return &pattern{tmpl: t}, nil
}

// checkNode walks the parse tree and refuses what could run unbounded.
func checkNode(n parse.Node, inRange bool) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkNode(c, inRange); err != nil {
				return err
			}
		}
	case *parse.IfNode:
		return checkBranch(&n.BranchNode, inRange)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode, inRange)
	case *parse.RangeNode:
		if inRange {
			return errors.New("must not nest {{range}} inside {{range}}")
		}
		if !rangesOverEventList(n.Pipe) {
			return errors.New("may {{range}} only over .Tags or .Details")
		}
		if err := checkNode(n.List, true); err != nil {
			return err
		}
		return checkNode(n.ElseList, inRange)
	case *parse.TemplateNode:
		return errors.New("must not call templates ({{template}} is not supported)")
	}
	return nil
}

func checkBranch(b *parse.BranchNode, inRange bool) error {
	if err := checkNode(b.List, inRange); err != nil {
		return err
	}
	return checkNode(b.ElseList, inRange)
}

// rangesOverEventList reports whether a range pipeline is exactly .Tags,
// .Details, $.Tags or $.Details (with optional variable declarations):
// lists whose length the event bounds.
func rangesOverEventList(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	var ident []string
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		ident = a.Ident
	case *parse.VariableNode:
		if len(a.Ident) == 0 || a.Ident[0] != "$" {
			return false
		}
		ident = a.Ident[1:]
	default:
		return false
	}
	return len(ident) == 1 && (ident[0] == "Tags" || ident[0] == "Details")
}

// render executes the pattern over e into a buffer, so that a failure
// never leaves a half-written body.
func (p *pattern) render(e notify.Event) ([]byte, error) {
	b := &budget{left: renderBudget}
	t, err := p.tmpl.Clone()
	if err != nil {
		return nil, fmt.Errorf("cannot prepare the pattern: %w", err)
	}
	t.Funcs(patternFuncs(b))
	out := &cappedBuffer{max: MaxBodyBytes}
	if err := t.Execute(out, e); err != nil {
		switch {
		case out.over:
			return nil, fmt.Errorf("the rendered body is larger than %d KiB", MaxBodyBytes>>10)
		case b.exceeded:
			return nil, errBudget
		}
		return nil, errors.New(cleanTemplateError(err))
	}
	return out.buf.Bytes(), nil
}

// cleanTemplateError drops text/template's "template: body_pattern:" prefix
// and keeps the position and reason.
func cleanTemplateError(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "template: ")
	msg = strings.TrimPrefix(msg, "body_pattern:")
	return text.Truncate(msg, 300)
}

// cappedBuffer is a buffer that refuses to grow past max.
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.max {
		c.over = true
		return 0, errors.New("body too large")
	}
	return c.buf.Write(p)
}

// budget counts the bytes the functions of one render produce.
type budget struct {
	left     int
	exceeded bool
}

// spend charges n bytes, failing once the budget is gone. A nil budget
// (parse time) charges nothing.
func (b *budget) spend(n int) error {
	if b == nil {
		return nil
	}
	b.left -= n
	if b.left < 0 {
		b.exceeded = true
		return errBudget
	}
	return nil
}

// afford fails when inputs of n bytes could not be processed within the
// budget, before any work is done.
func (b *budget) afford(n int) error {
	if b != nil && n > b.left {
		b.exceeded = true
		return errBudget
	}
	return nil
}

// patternFuncs returns the functions a pattern may call, bound to b: json,
// and budgeted versions of the text/template built-ins that build strings.
func patternFuncs(b *budget) ttemplate.FuncMap {
	str := func(grow int, f func(args ...any) string) func(args ...any) (string, error) {
		return func(args ...any) (string, error) {
			if err := b.afford(grow*argsSize(args) + len(args)); err != nil {
				return "", err
			}
			s := f(args...)
			return s, b.spend(len(s))
		}
	}
	return ttemplate.FuncMap{
		"json": func(v any) (string, error) {
			// A string, json's usual argument, is charged exactly, so that
			// a body's worth of description fits the budget however it is
			// escaped.
			most := growJSON * argsSize([]any{v})
			if s, ok := v.(string); ok {
				most = jsonStringLen(s)
			}
			if err := b.afford(most); err != nil {
				return "", err
			}
			out, err := json.Marshal(v)
			if err != nil {
				return "", fmt.Errorf("json: %v", err)
			}
			return string(out), b.spend(len(out))
		},
		"printf": func(format string, args ...any) (string, error) {
			most, err := formatCost(format, args)
			if err != nil {
				return "", err
			}
			if err := b.afford(most); err != nil {
				return "", err
			}
			s := fmt.Sprintf(format, args...)
			return s, b.spend(len(s))
		},
		"print":    str(1, fmt.Sprint),
		"println":  str(1, fmt.Sprintln),
		"html":     str(growHTML, ttemplate.HTMLEscaper),
		"js":       str(growJS, ttemplate.JSEscaper),
		"urlquery": str(growURLQuery, ttemplate.URLQueryEscaper),
	}
}

// argsSize estimates the bytes of args as a function would read them: the
// length of strings, lists and maps of strings, and a small constant for
// anything else, whose printed form is short.
func argsSize(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case []string:
			for _, s := range v {
				n += len(s) + 4
			}
		case map[string]string:
			for k, s := range v {
				n += len(k) + len(s) + 8
			}
		case notify.Event:
			n += len(v.ID) + len(v.Title) + len(v.Description) + len(v.URL) + len(v.Source) + 128
			n += argsSize([]any{v.Tags, v.Details})
		case notify.EventType:
			n += len(v)
		case notify.Risk:
			n += len(v)
		default:
			n += 64
		}
	}
	return n
}

// formatCost returns the most that fmt.Sprintf(format, args...) can
// produce: the format's own text and, for every verb, its width or its
// argument's size grown by the most the verb's quoting or hex can grow a
// byte. Each use of an argument counts: with argument indexes ([n]) every
// verb is charged the largest argument, so that %[1]s repeated a thousand
// times costs a thousand arguments. It refuses widths and precisions over
// maxFormatWidth and '*' (fmt allows up to a million per verb).
func formatCost(format string, args []any) (int, error) {
	sizes := make([]int, len(args))
	largest := 0
	for i := range args {
		sizes[i] = argsSize(args[i : i+1])
		largest = max(largest, sizes[i])
	}
	reordered := strings.IndexByte(format, '[') >= 0
	cost := len(format)
	next := 0 // the argument the next verb takes, without indexes
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		// Scan the verb's flags, width, precision and argument indexes up to
		// its letter (or a literal %), where the outer loop resumes. An
		// index skips to its ']', as fmt does.
		width, sharp, space := 0, false, false
	scan:
		for i++; i < len(format); {
			switch c := format[i]; {
			case c == '*':
				return 0, errors.New("printf: '*' widths are not supported")
			case c >= '0' && c <= '9':
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				if j-i > 3 || atoi(format[i:j]) > maxFormatWidth {
					return 0, fmt.Errorf("printf: widths and precisions must be at most %d", maxFormatWidth)
				}
				width = max(width, atoi(format[i:j]))
				i = j
			case c == '[':
				if j := strings.IndexByte(format[i:], ']'); j > 0 {
					i += j + 1
				} else {
					i++
				}
			case strings.IndexByte("+-# .", c) >= 0:
				sharp = sharp || c == '#'
				space = space || c == ' '
				i++
			default:
				break scan
			}
		}
		if i >= len(format) {
			cost += 16 // %!(NOVERB)
			break
		}
		if format[i] == '%' {
			continue
		}
		size := largest
		if !reordered {
			size = 0
			if next < len(sizes) {
				size = sizes[next]
			}
			next++
		}
		// 16: what fmt writes around a missing or mismatched argument.
		cost += max(width, 16+verbGrowth(format[i], sharp, space)*size)
	}
	return cost, nil
}

// verbGrowth is the most one byte of an argument can grow to under verb:
// %q writes a byte as \xNN, %x as two hex digits (with '#' and ' ', as
// " 0xNN"), and a verb that does not fit the argument wraps each element in
// %!d(string=…).
func verbGrowth(verb byte, sharp, space bool) int {
	switch verb {
	case 's', 'v':
		if sharp {
			return 4
		}
		return 1
	case 'q':
		return 4
	case 'x', 'X':
		switch {
		case sharp && space:
			return 5
		case sharp || space:
			return 3
		}
		return 2
	}
	return 4
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// sampleEvent is what Validate renders a pattern over: every field set,
// its text full of the characters that break hand-written JSON.
var sampleEvent = notify.Event{
	ID:          "sample-event-0001",
	Type:        notify.EventClientSideRisk,
	Title:       `New script "analytics.js" loaded \ on checkout` + "\n" + `</script>`,
	Description: "A script that was not seen before\r\nloaded on a payment page: \"\\\t<b>&amp;</b>",
	Risk:        notify.RiskHigh,
	Time:        time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	URL:         `https://console.example.com/alerts/1?a=1&b="2"`,
	Source:      `shop "example" \ com`,
	Tags:        []string{"pci", `a "quoted" tag`, `back\slash`},
	Details:     map[string]string{"script": `https://cdn.example.com/a.js?x="1"`, "page": "/checkout\n"},
}

// checkJSON returns nil when b is one JSON value, else the parser's reason.
func checkJSON(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	return errors.New("not a single JSON value")
}

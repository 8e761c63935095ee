package jiratest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// jqlHelp lists the JQL the Jira fake understands; anything else is a 400,
// so a query the fake cannot honour never silently matches nothing.
const jqlHelp = `the fake supports clauses joined by AND: ` +
	`project = KEY|ID (also !=, in, not in); labels = "x" (also !=, in, not in, is [not] EMPTY); ` +
	`key = SEC-1 (also !=, in, not in); issuetype = Name|ID (also !=, in, not in); ` +
	`status = "To Do" (also !=); statusCategory = "To Do"|Done (also !=); ` +
	`resolution = Unresolved (also !=, is [not] EMPTY); ` +
	`then ORDER BY created|updated|key|id [ASC|DESC]. Every issue the fake creates is unresolved, in To Do.`

type jqlClause struct {
	field  string // lower case
	op     string // "=", "!=", "in", "not in", "is", "is not"
	values []string
}

type jqlQuery struct {
	clauses     []jqlClause
	newestFirst bool
}

type jqlToken struct {
	text   string
	quoted bool
}

func (t jqlToken) is(word string) bool { return !t.quoted && strings.EqualFold(t.text, word) }

func jqlError(format string, args ...any) error {
	return fmt.Errorf("Error in the JQL Query: "+format+" ("+jqlHelp+")", args...)
}

func tokenizeJQL(s string) ([]jqlToken, error) {
	var out []jqlToken
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i++
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			for ; j < len(rs) && rs[j] != r; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
			}
			if j >= len(rs) {
				return nil, jqlError("unterminated string at character %d", i+1)
			}
			out = append(out, jqlToken{text: b.String(), quoted: true})
			i = j + 1
		case r == '(' || r == ')' || r == ',' || r == '=':
			out = append(out, jqlToken{text: string(r)})
			i++
		case r == '!' && i+1 < len(rs) && rs[i+1] == '=':
			out = append(out, jqlToken{text: "!="})
			i += 2
		case strings.ContainsRune("!<>~", r):
			return nil, jqlError("the operator at character %d is not supported", i+1)
		default:
			j := i
			for j < len(rs) && !strings.ContainsRune(" \t\r\n()\"',=!<>~", rs[j]) {
				j++
			}
			out = append(out, jqlToken{text: string(rs[i:j])})
			i = j
		}
	}
	return out, nil
}

// parseJQL parses the subset in jqlHelp.
func parseJQL(s string) (*jqlQuery, error) {
	toks, err := tokenizeJQL(s)
	if err != nil {
		return nil, err
	}
	q := &jqlQuery{}
	i := 0
	next := func() (jqlToken, bool) {
		if i >= len(toks) {
			return jqlToken{}, false
		}
		i++
		return toks[i-1], true
	}
	for i < len(toks) {
		if toks[i].is("order") {
			if err := q.parseOrder(toks[i:]); err != nil {
				return nil, err
			}
			break
		}
		if len(q.clauses) > 0 {
			t, _ := next()
			switch {
			case t.is("or"):
				return nil, jqlError("OR is not supported")
			case !t.is("and"):
				return nil, jqlError("expected AND or ORDER BY, found %q", t.text)
			}
		}
		c, err := parseClause(next)
		if err != nil {
			return nil, err
		}
		q.clauses = append(q.clauses, c)
	}
	if len(q.clauses) == 0 {
		return nil, errors.New("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
	}
	return q, nil
}

func parseClause(next func() (jqlToken, bool)) (jqlClause, error) {
	f, ok := next()
	if !ok {
		return jqlClause{}, jqlError("expected a field after AND")
	}
	c := jqlClause{field: strings.ToLower(f.text)}
	switch c.field {
	case "issuekey":
		c.field = "key"
	case "type":
		c.field = "issuetype"
	case "project", "labels", "key", "issuetype", "status", "statuscategory", "resolution":
	default:
		return c, jqlError("the field %q is not supported", f.text)
	}
	op, ok := next()
	switch {
	case !ok:
		return c, jqlError("expected an operator after %q", f.text)
	case op.text == "=" || op.text == "!=":
		c.op = op.text
	case op.is("in"):
		c.op = "in"
	case op.is("not"):
		if t, _ := next(); !t.is("in") {
			return c, jqlError("expected IN after NOT")
		}
		c.op = "not in"
	case op.is("is"):
		c.op = "is"
		t, _ := next()
		if t.is("not") {
			c.op = "is not"
			t, _ = next()
		}
		if !t.is("empty") && !t.is("null") {
			return c, jqlError("only IS [NOT] EMPTY is supported")
		}
		if c.field != "labels" && c.field != "resolution" {
			return c, jqlError("IS EMPTY is supported only for labels and resolution")
		}
		return c, nil
	default:
		return c, jqlError("the operator %q is not supported", op.text)
	}
	if c.op == "=" || c.op == "!=" {
		v, ok := next()
		if !ok || (!v.quoted && strings.ContainsAny(v.text, "(),")) {
			return c, jqlError("expected a value after %s %s", f.text, c.op)
		}
		c.values = []string{v.text}
		return c, nil
	}
	if t, _ := next(); t.text != "(" || t.quoted {
		return c, jqlError("expected ( after %s", strings.ToUpper(c.op))
	}
	for {
		v, ok := next()
		if !ok || (!v.quoted && (v.text == ")" || v.text == ",")) {
			return c, jqlError("expected a value in the list")
		}
		c.values = append(c.values, v.text)
		sep, _ := next()
		if sep.text == ")" && !sep.quoted {
			break
		}
		if sep.text != "," || sep.quoted {
			return c, jqlError("expected , or ) in the list")
		}
	}
	if c.field == "status" || c.field == "statuscategory" || c.field == "resolution" {
		return c, jqlError("IN is not supported for %s", f.text)
	}
	return c, nil
}

func (q *jqlQuery) parseOrder(toks []jqlToken) error {
	if len(toks) < 3 || !toks[1].is("by") {
		return jqlError("expected ORDER BY field")
	}
	switch strings.ToLower(toks[2].text) {
	case "created", "updated", "key", "id", "issuekey":
	default:
		return jqlError("ORDER BY %q is not supported", toks[2].text)
	}
	switch {
	case len(toks) == 3, len(toks) == 4 && toks[3].is("asc"):
	case len(toks) == 4 && toks[3].is("desc"):
		q.newestFirst = true
	default:
		return jqlError("ORDER BY takes one field and ASC or DESC")
	}
	return nil
}

// checkProjects returns Jira's message for a project clause naming a
// project that does not exist; the caller holds s.mu.
func (q *jqlQuery) checkProjects(s *Fake) string {
	for _, c := range q.clauses {
		if c.field != "project" {
			continue
		}
		for _, v := range c.values {
			if _, ok := s.jiraFindProject(v); !ok {
				return fmt.Sprintf("The value '%s' does not exist for the field 'project'.", v)
			}
		}
	}
	return ""
}

func (q *jqlQuery) matches(is *Issue) bool {
	for _, c := range q.clauses {
		if !c.matches(is) {
			return false
		}
	}
	return true
}

func (c jqlClause) matches(is *Issue) bool {
	// anyOf reports whether the issue's value for the field equals any of
	// the clause's values.
	anyOf := func(has func(v string) bool) bool { return slices.ContainsFunc(c.values, has) }
	var hit bool
	switch c.field {
	case "project":
		hit = anyOf(func(v string) bool { return v == is.ProjectID || strings.EqualFold(v, is.ProjectKey) })
	case "key":
		hit = anyOf(func(v string) bool { return strings.EqualFold(v, is.Key) || v == is.ID })
	case "issuetype":
		hit = anyOf(func(v string) bool { return v == is.IssueTypeID || strings.EqualFold(v, is.IssueTypeName) })
	case "status":
		hit = anyOf(func(v string) bool { return strings.EqualFold(v, is.Status) })
	case "statuscategory":
		hit = anyOf(func(v string) bool {
			return strings.EqualFold(v, is.StatusCategory) || strings.EqualFold(v, jiraCategoryNames[is.StatusCategory])
		})
	case "resolution":
		resolved := is.StatusCategory == "done" // the fake resolves what reaches a Done status
		if c.op == "is" || c.op == "is not" {
			return (c.op == "is") != resolved // EMPTY: unresolved
		}
		hit = anyOf(func(v string) bool { return strings.EqualFold(v, "Unresolved") != resolved })
	case "labels":
		if c.op == "is" || c.op == "is not" {
			return (len(is.Labels) == 0) == (c.op == "is")
		}
		hit = anyOf(func(v string) bool { return slices.Contains(is.Labels, v) })
		if (c.op == "!=" || c.op == "not in") && len(is.Labels) == 0 {
			return false // as in Jira, a negative label clause skips unlabelled issues
		}
	}
	if c.op == "!=" || c.op == "not in" {
		return !hit
	}
	return hit
}

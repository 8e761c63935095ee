package webhook

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// jsonPatterns are JSON-shaped patterns: every value goes through json, so
// the output must be valid JSON for any event.
var jsonPatterns = []string{
	// The package documentation's example.
	`{"text": {{json .Title}}, "severity": {{json .Risk}}, "page": {{json .Details.page}},
 "tags": [{{range $i, $t := .Tags}}{{if $i}},{{end}}{{json $t}}{{end}}]}`,
	`{"title": {{json .Title}}}`,
	`{"id": {{json .ID}}, "type": {{json .Type}}, "title": {{json .Title}}, "description": {{json .Description}},` +
		` "risk": {{json .Risk}}, "time": {{json .Time}}, "url": {{json .URL}}, "source": {{json .Source}},` +
		` "tags": {{json .Tags}}, "details": {{json .Details}}}`,
	`{"text": {{json (printf "[%s] %s on %s" .Risk.Label .Title .Source)}}, "when": {{json (.Time.Format "2006-01-02")}}}`,
	`{"tags": [{{range $i, $t := .Tags}}{{if $i}},{{end}}{{json $t}}{{end}}],` +
		` "details": [{{range $k, $v := .Details}}{{json (print $k "=" $v)}},{{end}}null]}`,
	`{"event": {{json .}}, "page": {{json .Details.page}}, "first": {{with .Tags}}{{json (index . 0)}}{{else}}null{{end}}}`,
	`[{{json .Title | printf "%s"}}, {{.Title | json}}, {{json (html .Title)}}, {{json (js .Title)}}, {{json (urlquery .Title)}}]`,
}

func TestPattern_HostileTextStaysJSON(t *testing.T) {
	e := sampleEvt()
	e.Title = "quote \" backslash \\ newline \n cr \r tab \t nul \x00 </script><!-- \u2028\u2029 é 🚨 \xff\xfe"
	e.Description = `{"injected": true}, "x": "`
	e.Tags = []string{`"`, `\`, "\n", `</script>`}
	e.Details = map[string]string{`k"ey`: "v\\al\nue", "page": "</script>"}
	for _, src := range jsonPatterns {
		p, err := parsePattern(src)
		require.NoError(t, err, src)
		out, err := p.render(e)
		require.NoError(t, err, src)
		require.True(t, json.Valid(out), "pattern %s rendered invalid JSON: %s", src, out)
	}
	p, err := parsePattern(`{"title": {{json .Title}}}`)
	require.NoError(t, err)
	out, err := p.render(e)
	require.NoError(t, err)
	var got struct{ Title string }
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, string([]rune(e.Title)), got.Title, "each invalid byte becomes U+FFFD")
}

func TestParsePattern_RefusesUnboundedConstructs(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`{{define "x"}}a{{end}}{{template "x"}}`, "must not define templates"},
		{`{{block "x" .}}a{{end}}`, "must not define templates"},
		{`{{template "body_pattern"}}`, "must not call templates"},
		{`{{range 1000000000}}{{end}}`, "only over .Tags or .Details"},
		{`{{range .Time.Unix}}{{end}}`, "only over .Tags or .Details"},
		{`{{$n := 5}}{{range $n}}{{end}}`, "only over .Tags or .Details"},
		{`{{with .Tags}}{{range .}}{{end}}{{end}}`, "only over .Tags or .Details"},
		{`{{range .Tags}}{{range $.Details}}{{end}}{{end}}`, "must not nest {{range}}"},
		{`{{range .Tags}}{{if .}}{{with .}}{{range $.Tags}}{{end}}{{end}}{{end}}{{end}}`, "must not nest {{range}}"},
		{`{{if .Tags}}{{else}}{{range 3}}{{end}}{{end}}`, "only over .Tags or .Details"},
		{`{{range .Tags}}{{else}}{{range 3}}{{end}}{{end}}`, "only over .Tags or .Details"},
		{`{{json .Title`, "does not parse"},
		{strings.Repeat("x", MaxPatternBytes+1), "at most"},
	} {
		_, err := parsePattern(tc.src)
		require.ErrorContains(t, err, tc.want, text.Truncate(tc.src, 80))
	}
	for _, ok := range []string{
		`{{range .Tags}}{{.}}{{end}}`, `{{range $k, $v := .Details}}{{$k}}{{end}}`,
		`{{with .Tags}}x{{end}}{{range $.Tags}}{{break}}{{end}}`, ``, `plain text`, `{{/* a comment */}}`,
	} {
		_, err := parsePattern(ok)
		require.NoError(t, err, ok)
	}
}

func TestRender_PrintfWidthsAreBounded(t *testing.T) {
	for _, src := range []string{`{{printf "%1000000d" 1}}`, `{{printf "%*d" 100000 1}}`, `{{printf "%.9999s" .Title}}`,
		`{{printf "%[1]0000000300d" 1}}`} {
		p, err := parsePattern(src)
		require.NoError(t, err, src) // the format is only known when it runs
		_, err = p.render(sampleEvent)
		require.ErrorContains(t, err, "printf:", src)
	}
	p, err := parsePattern(`{{printf "%-10s|%08.3f|%[1]q|%%|%256d" .Title 3.14159 7}}`)
	require.NoError(t, err)
	_, err = p.render(sampleEvent)
	require.NoError(t, err)
}

func TestRender_BudgetStopsGrowingValues(t *testing.T) {
	e := sampleEvt()
	e.Title = strings.Repeat("&", 4096)
	e.Tags = make([]string, 100)
	e.Details = map[string]string{"big": strings.Repeat("x", 100<<10)}
	for name, src := range map[string]string{
		// Each html multiplies the & by five: 4 KiB becomes ~400 GiB unchecked.
		"nested html":    `{{html (html (html (html (html (html (html (html (html (html (html (html (html (html .Title)))))))))))))}}`,
		"piped html":     `{{.Title | html | html | html | html | html | html | html | html | html | html | html | html | html}}`,
		"doubling vars":  `{{$x := .Title}}{{range .Tags}}{{$x = print $x $x}}{{end}}{{len $x}}`,
		"values in loop": `{{range .Tags}}{{$y := print $.Details.big $.Details.big $.Details.big}}{{end}}`,
	} {
		p, err := parsePattern(src)
		require.NoError(t, err, name)
		_, err = p.render(e)
		require.ErrorIs(t, err, errBudget, name)
	}
	// Output is bounded by MaxBodyBytes.
	p, err := parsePattern(`{{range .Tags}}{{$.Details.big}}{{end}}`)
	require.NoError(t, err)
	_, err = p.render(e)
	require.ErrorContains(t, err, "larger than 256 KiB")
}

func TestRender_IsSafeForConcurrentUse(t *testing.T) {
	p, err := parsePattern(jsonPatterns[1])
	require.NoError(t, err)
	want, err := p.render(sampleEvent)
	require.NoError(t, err)
	done := make(chan []byte)
	for range 8 {
		go func() {
			out, _ := p.render(sampleEvent)
			done <- out
		}()
	}
	for range 8 {
		require.Equal(t, want, <-done)
	}
}

// fuzzEvent builds an event from fuzzed parts; the time is kept within
// years 1-9999, which JSON can encode.
func fuzzEvent(title, desc, source, tag, key, val string, sec int64) notify.Event {
	const (
		year1    = -62135596800 // 0001-01-01T00:00:00Z
		year9999 = 253402300799 // 9999-12-31T23:59:59Z
	)
	if sec < 0 {
		sec = -(sec + 1)
	}
	return notify.Event{
		ID: "fuzz-1", Type: notify.EventType(tag), Title: title, Description: desc, Risk: notify.Risk(key),
		Time: time.Unix(year1+sec%(year9999-year1), 0).UTC(), URL: val, Source: source,
		Tags: []string{tag, title}, Details: map[string]string{key: val, "page": desc},
	}
}

func FuzzRenderJSONPattern(f *testing.F) {
	f.Add("New script", "loaded on /checkout", "shop.example.com", "pci", "script", "https://cdn/x.js", int64(1767225600))
	f.Add(`"quoted" \ </script>`, "line\nbreak\r\n", "\x00\x01\x7f", `"`, `\`, "\u2028", int64(0))
	f.Add("\xff\xfe invalid", "é🚨", "", "", "", "", int64(-1))
	f.Add(strings.Repeat("{", 100), "%s%d%!", "{{json .}}", "}}", "{{", "]", int64(253402300799))
	f.Fuzz(func(t *testing.T, title, desc, source, tag, key, val string, sec int64) {
		e := fuzzEvent(title, desc, source, tag, key, val, sec)
		for _, src := range jsonPatterns {
			p, err := parsePattern(src)
			require.NoError(t, err)
			out, err := p.render(e)
			if err != nil {
				// Only the budget may stop a JSON-shaped pattern, on huge inputs.
				require.ErrorIs(t, err, errBudget)
				continue
			}
			require.True(t, json.Valid(out), "pattern %s rendered invalid JSON: %q", src, out)
		}
	})
}

func FuzzPattern(f *testing.F) {
	for _, p := range jsonPatterns {
		f.Add(p)
	}
	for _, p := range []string{
		`{{.Title}}`, `{{range .Tags}}{{.}}{{end}}`, `{{define "a"}}{{template "a"}}{{end}}`, `{{range 10}}x{{end}}`,
		`{{printf "%99999d" 1}}`, `{{index .Tags 99}}`, `{{slice .Title 5 1}}`, `{{.Details.x.y}}`, `{{call .Title}}`,
		`{{json}}`, `{{json 1 2}}`, `{{.Time.AddDate 100000 0 0 | json}}`, `{{$}}{{$.Nope}}`, `{{len .Details}}`,
		`{{range $i, $t := .Tags}}{{break}}{{continue}}{{end}}`, `{{with $x := .Title}}{{$x}}{{end}}`, "{{\x00}}",
		`{{html (html (html .Title))}}`, `{{.Validate}}`, `{{.Risk.Scale}}`, `{{eq .Type "test"}}`,
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := parsePattern(src)
		if err != nil {
			return
		}
		for _, e := range []notify.Event{sampleEvent, {}, fuzzEvent(src, src, src, src, src, src, int64(len(src)))} {
			out, err := p.render(e)
			if err == nil {
				require.LessOrEqual(t, len(out), MaxBodyBytes)
			}
		}
	})
}

func FuzzValidate(f *testing.F) {
	// The secret is appended to "whsec_Zk9xUmVk" (6 bytes once decoded).
	f.Add("SOC", "https://hooks.example.com/x", "POST", "tcp", "X-Key", "k-0123456789", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", jsonPatterns[0], "incident")
	f.Add("", "http://127.0.0.1:9/x", "get", "tls", "Host", "a\r\nb", "", `{{.Title}}`, "deploy")
	f.Add("n", "http://10.0.0.1/", "DELETE", "", "webhook-id", "[REDACTED]", "AAAA", "", "test")
	f.Add("\x00", "::", "TRACE", "TLS", "", "", strings.Repeat("A", 200), `{{range 9}}{{end}}`, "")
	f.Add("ok", "https://h.example.com", "put", "tcp", "Content-Type", "text/plain", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", `{{.Title}}`, "client_side_risk")
	f.Fuzz(func(t *testing.T, name, url, method, protocol, hname, hvalue, secret, pattern, event string) {
		// Markers no message contains, so that an echoed secret is seen.
		const valueMarker, secretMarker = "hv-7f3a9c-", "Zk9xUmVk"
		cfg := Config{
			Name: name, URL: url, Method: method, Protocol: Protocol(protocol), BodyPattern: pattern,
			Headers:       []Header{{Name: hname, Value: notify.Secret(valueMarker + hvalue)}},
			SigningSecret: notify.Secret(SecretPrefix + secretMarker + secret),
			Events:        []notify.EventType{notify.EventType(event)},
		}
		err := cfg.Validate()
		if err != nil {
			var ve *notify.ValidationError
			require.ErrorAs(t, err, &ve)
			if others := name + url + method + protocol + hname + pattern + event; !strings.Contains(others, valueMarker) &&
				!strings.Contains(others, secretMarker) {
				require.NotContains(t, err.Error(), valueMarker)
				require.NotContains(t, err.Error(), secretMarker)
				notifytest.AssertNoSecret(t, err, cfg.Headers[0].Value, cfg.SigningSecret)
			}
			return
		}
		// What Validate accepts, New accepts (plain http:// aside, which
		// depends on the option given here).
		n, err := New(cfg, notify.WithAllowPrivateNetworks())
		require.NoError(t, err)
		_, err = n.body(sampleEvent)
		require.NoError(t, err, "a pattern that passed Validate renders the sample event")
	})
}

// maxRenderAlloc is the most one failing render may allocate, every
// transient buffer counted: a small multiple of the budget.
const maxRenderAlloc = 6 * renderBudget

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestRender_ArgumentIndexesCannotAmplify(t *testing.T) {
	// Each %[1]s reuses the one argument: 2,000 of them over a 48 KiB
	// description would be 94 MiB from one printf, and gigabytes with a
	// larger field. The pattern passes Validate: the sample event's
	// description is short.
	src := `{"d": {{json (printf "` + strings.Repeat("%[1]s", 2000) + `" .Description)}}}`
	require.Less(t, len(src), MaxPatternBytes)
	cfg := Config{Name: "amplifier", URL: "https://hooks.example.com/x", BodyPattern: src}
	require.NoError(t, cfg.Validate())
	p, err := parsePattern(src)
	require.NoError(t, err)
	e := sampleEvt()
	e.Description = strings.Repeat("d", 48<<10)
	var renderErr error
	got := allocated(func() { _, renderErr = p.render(e) })
	require.Error(t, renderErr)
	require.LessOrEqual(t, got, uint64(maxRenderAlloc),
		"one render allocated %d MiB: the budget must stop a printf before it builds its result", got>>20)
}

func TestRender_EveryConstructStaysWithinTheBudget(t *testing.T) {
	e := sampleEvt()
	e.Description = strings.Repeat("<", 200<<10) // grows six times in json, five in html
	e.Tags = make([]string, 200)
	e.Details = map[string]string{"big": strings.Repeat("&", 200<<10)}
	for name, src := range map[string]string{
		"argument indexes":    `{{printf "` + strings.Repeat("%[1]s", 2000) + `" .Description}}`,
		"argument indexes, q": `{{printf "%[1]q%[1]q%[1]q%[1]q%[1]q%[1]q" .Description}}`,
		"sequential verbs":    `{{printf "%s%s%s%s%s%s%s%s%s%s%s%s" .Description .Description .Description .Description .Description .Description .Description .Description .Description .Description .Description .Description}}`,
		"json in a loop":      `{{range .Tags}}{{$x := json $.Description}}{{end}}`,
		"html in a loop":      `{{range .Tags}}{{$x := html $.Details.big}}{{end}}`,
		"doubling":            `{{$x := .Description}}{{range .Tags}}{{$x = print $x $x}}{{end}}`,
		"output in a loop":    `{{range .Tags}}{{$.Description}}{{end}}`,
		"nested escapers":     `{{js (urlquery (html (json .Details.big)))}}`,
		"printf of the event": `{{range .Tags}}{{$x := printf "%#v" $}}{{end}}`,
		"the event as output": `{{range .Tags}}{{$}}{{end}}`,
	} {
		t.Run(name, func(t *testing.T) {
			p, err := parsePattern(src)
			require.NoError(t, err)
			var renderErr error
			got := allocated(func() { _, renderErr = p.render(e) })
			require.Error(t, renderErr)
			t.Logf("%d KiB allocated: %v", got>>10, renderErr)
			require.LessOrEqual(t, got, uint64(maxRenderAlloc), "allocated %d MiB", got>>20)
		})
	}
}

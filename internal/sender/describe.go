package sender

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strings"
)

var htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// DescribeBody is the default reading of an error body: the "message",
// "error", "errors" or "text" of a JSON body, an HTML page's title, or the
// text itself.
func DescribeBody(r *Response) string {
	body := bytes.TrimSpace(r.Body)
	if len(body) == 0 {
		return http.StatusText(r.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "text/html" || bytes.HasPrefix(body, []byte("<")) {
		if m := htmlTitle.FindSubmatch(body); m != nil {
			return "HTML page: " + strings.TrimSpace(string(m[1]))
		}
		return "an HTML page (" + http.StatusText(r.StatusCode) + ")"
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) == nil {
		var parts []string
		for _, k := range []string{"message", "error", "errors", "errorMessages", "text"} {
			if v, ok := obj[k]; ok {
				if t := jsonText(v); t != "" {
					parts = append(parts, t)
				}
			}
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	return string(body)
}

// jsonText renders a JSON value as plain text: a string as is, a list of
// strings joined, anything else compact.
func jsonText(v json.RawMessage) string {
	switch string(bytes.TrimSpace(v)) {
	case "{}", "[]", `""`, "null":
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(v, &list) == nil {
		return strings.Join(list, "; ")
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) == nil {
		return buf.String()
	}
	return string(v)
}

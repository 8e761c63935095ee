package splunk

import (
	"encoding/json"
	"strings"

	"github.com/codedefender/integrations/internal/guard"
	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
)

// Type is the console's integration type for Splunk.
const Type = "splunk"

// Config is a Splunk HTTP Event Collector integration as the console stores
// it.
type Config struct {
	// Name is how the integration appears in the console.
	Name string `json:"name"`
	// URL is the HEC endpoint: https://<host>[:port]/services/collector, or
	// the same ending in /services/collector/event. Both reach the same
	// collector; the notifier always posts to .../services/collector/event.
	// The console's documented form, a Splunk Cloud stack's own address
	// (https://<stack>.splunkcloud.com/services/collector), is accepted as
	// stored and sent to the stack's HEC host,
	// https://http-inputs-<stack>.splunkcloud.com.
	URL string `json:"url"`
	// APIToken is the HEC token, a GUID, sent as "Authorization: Splunk <token>".
	APIToken notify.Secret `json:"api_token"`
	// Index, when set, is written into every event; the token must be
	// allowed to write to it. When empty the token's default index is used.
	Index string `json:"index,omitempty"`
}

// The two paths HEC takes JSON events on (CONTRACTS §6: "POST
// /services/collector/event (also /services/collector)").
const (
	collectorPath = "/services/collector"
	eventPath     = collectorPath + "/event"
)

// Validate checks every field offline and reports all bad ones at once, as a
// *notify.ValidationError. Whether plain http:// may be used depends on
// notify.WithAllowPrivateNetworks, so New checks that.
func (c Config) Validate() error {
	var errs validate.Errors
	errs.CheckName("name", c.Name)
	if _, msg := parseHECURL(c.URL, true); msg != "" {
		errs.Add("url", msg)
	}
	if errs.CheckSecret("api_token", c.APIToken, true) && !isGUID(c.APIToken.Reveal()) {
		// The value is never repeated: it is a credential.
		errs.Add("api_token", "must be the HEC token, a GUID such as 01234567-89ab-cdef-0123-456789abcdef "+
			"(Splunk: Settings > Data inputs > HTTP Event Collector)")
	}
	if c.Index != "" {
		if msg := checkIndex(c.Index); msg != "" {
			errs.Add("index", msg)
		}
	}
	return errs.Err()
}

// hecURL is a checked HEC URL.
type hecURL struct {
	// event is the URL the notifier posts to: the configured one with its
	// path ending in /services/collector/event.
	event string
	host  string
	cloud cloudForm
	// stack is set when the URL was a stack's web address and event was
	// derived from it: a Test that cannot resolve the derived host says to
	// enter the stack's HEC URL instead.
	stack string
}

// cloudForm says how a host under Splunk Cloud's domains reads.
type cloudForm int

const (
	notCloud     cloudForm = iota // on-premises Splunk Enterprise (or a load balancer): any host
	cloudKnown                    // one of the documented Splunk Cloud HEC forms
	cloudUnknown                  // under a Splunk Cloud domain, in a form not documented for HEC
)

// Splunk Cloud's HEC host forms, from Splunk's "Set up and use HTTP Event
// Collector in Splunk Web" (Splunk Cloud Platform, "Send data to HTTP Event
// Collector on Splunk Cloud Platform"):
// https://docs.splunk.com/Documentation/SplunkCloud/9.1.2312/Data/UsetheHTTPEventCollector
// gives <protocol>://http-inputs-<host>.splunkcloud.com:<port>/<endpoint>
// on AWS, http-inputs.<host>.splunkcloud.com on Google Cloud and Azure,
// http-inputs.<host>.splunkcloudgc.com on FedRAMP Moderate (AWS GovCloud),
// port 443 by default and 8088 on free trials; older trials answer on
// <stack>.splunkcloud.com:8088 (CONTRACTS §6).
const (
	cloudDomain   = ".splunkcloud.com"
	cloudGCDomain = ".splunkcloudgc.com"
	inputsPrefix  = "http-inputs"
	trialHECPort  = "8088"
)

// parseHECURL checks raw as a HEC URL. allowPrivate is what
// guard.CheckURL needs: Validate passes true (the option is not known
// offline), New passes the notifier's setting. It returns a message for the
// url field when raw is not acceptable; the message never repeats raw.
func parseHECURL(raw string, allowPrivate bool) (hecURL, string) {
	if strings.TrimSpace(raw) == "" {
		return hecURL{}, "is required"
	}
	u, err := guard.CheckURL(raw, allowPrivate)
	if err != nil {
		return hecURL{}, err.Error()
	}
	if u.RawQuery != "" || u.ForceQuery {
		// HEC's ?token= is off by default (code 16) and lands in access logs.
		return hecURL{}, "must not carry a query string: the token goes in api_token, never in the URL"
	}
	if u.Fragment != "" {
		return hecURL{}, "must not carry a #fragment"
	}
	path := strings.TrimSuffix(u.Path, "/")
	switch {
	case strings.HasSuffix(path, eventPath):
	case strings.HasSuffix(path, collectorPath):
		path += "/event"
	case strings.Contains(path, collectorPath+"/raw"):
		return hecURL{}, "points at HEC's raw endpoint; use the JSON one, ending in /services/collector"
	case strings.Contains(path, collectorPath+"/health"):
		return hecURL{}, "points at HEC's health endpoint; use the one ending in /services/collector"
	default:
		return hecURL{}, "must be a HEC URL ending in /services/collector, such as " +
			"https://http-inputs-<stack>.splunkcloud.com/services/collector or https://splunk.example.com:8088/services/collector"
	}
	host := strings.ToLower(u.Hostname())
	form := classifyCloudHost(host, u.Port())
	if form != notCloud && u.Scheme != "https" {
		return hecURL{}, "must use https: Splunk Cloud takes HEC over https only"
	}
	ev := *u
	ev.Path, ev.RawPath = path, ""
	out := hecURL{host: host, cloud: form}
	if form == cloudUnknown && isCloudWebHost(host, u.Port()) {
		// The console documents the stack's own address; HEC is not served
		// there but on the stack's http-inputs- host (AWS, the most common
		// form). A stack on Google Cloud or Azure is told by Test to enter
		// its http-inputs. URL.
		out.stack = strings.TrimSuffix(host, cloudDomain)
		out.host = cloudHECHost(out.stack)
		out.cloud = cloudKnown
		ev.Host = out.host // the port was empty or 443: the default
	}
	out.event = ev.String()
	return out, ""
}

// cloudHECHost is the HEC host of a Splunk Cloud stack on AWS.
func cloudHECHost(stack string) string { return inputsPrefix + "-" + stack + cloudDomain }

// classifyCloudHost reads host (lower case) and port against the Splunk
// Cloud forms.
func classifyCloudHost(host, port string) cloudForm {
	var stack string
	switch {
	case strings.HasSuffix(host, cloudGCDomain):
		stack = strings.TrimSuffix(host, cloudGCDomain)
		if s, ok := strings.CutPrefix(stack, inputsPrefix+"."); ok && isStackName(s) && isHTTPSPort(port) {
			return cloudKnown
		}
		return cloudUnknown
	case strings.HasSuffix(host, cloudDomain):
		stack = strings.TrimSuffix(host, cloudDomain)
	default:
		return notCloud
	}
	if s, ok := strings.CutPrefix(stack, inputsPrefix+"-"); ok && isStackName(s) && isHTTPSPort(port) {
		return cloudKnown
	}
	if s, ok := strings.CutPrefix(stack, inputsPrefix+"."); ok && isStackName(s) && isHTTPSPort(port) {
		return cloudKnown
	}
	if isStackName(stack) && !strings.HasPrefix(stack, inputsPrefix) && port == trialHECPort {
		return cloudKnown
	}
	return cloudUnknown
}

// isCloudWebHost reports whether host:port is a stack's web address
// (<stack>.splunkcloud.com on 443), the usual mistake when copying the URL
// from a browser.
func isCloudWebHost(host, port string) bool {
	stack, ok := strings.CutSuffix(host, cloudDomain)
	return ok && isStackName(stack) && !strings.HasPrefix(stack, inputsPrefix) && isHTTPSPort(port)
}

func isHTTPSPort(port string) bool { return port == "" || port == "443" }

// isStackName reports whether s is one DNS label: a Splunk Cloud stack name.
func isStackName(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isGUID reports whether s has the 8-4-4-4-12 hex form of a HEC token
// (Splunk: "The HEC token must be a Globally Unique IDentifier (GUID)").
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// checkIndex applies Splunk's index naming rule: lower-case ASCII letters,
// digits, '_' and '-', not starting with '_' or '-' (names starting with '_'
// are Splunk's internal indexes). [Splunk "Create custom indexes"; recalled,
// not re-read for this package.] An index that breaks it could only ever be
// answered with HEC code 7.
func checkIndex(index string) string {
	switch {
	case strings.TrimSpace(index) != index:
		return "must not start or end with spaces"
	case index[0] == '_':
		return "must not start with '_': those are Splunk's internal indexes"
	case index[0] == '-':
		return "must not start with '-'"
	}
	for i := 0; i < len(index); i++ {
		c := index[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-':
		case c >= 'A' && c <= 'Z':
			return "must be lower case, as Splunk index names are (" + strings.ToLower(index) + "?)"
		default:
			return "may hold only lower-case letters, digits, '_' and '-'"
		}
	}
	return ""
}

// FromJSON builds a Notifier from the console's JSON config; it is this
// package's notify.Factory.
func FromJSON(raw json.RawMessage, opts ...notify.Option) (notify.Notifier, error) {
	return validate.FromJSON(raw, New, opts...)
}

package notify

// RiskScale is how one Risk reads on each destination's own scale.
type RiskScale struct {
	JiraPriority      string // Jira's default priority names
	PagerDutySeverity string // PagerDuty Events v2 payload.severity
	OpsgeniePriority  string // Opsgenie P1-P5
	DatadogSeverity   string // Datadog incident severity field
	Color             string // a hex colour for chat and mail
	Label             string // a short upper-case label for subjects and headers
}

// riskScales is the one table that maps Risk onto every destination's scale.
var riskScales = map[Risk]RiskScale{
	RiskCritical: {"Highest", "critical", "P1", "SEV-1", "#B60205", "CRITICAL"},
	RiskHigh:     {"High", "error", "P2", "SEV-2", "#D93F0B", "HIGH"},
	RiskMedium:   {"Medium", "warning", "P3", "SEV-3", "#FBCA04", "MEDIUM"},
	RiskLow:      {"Low", "info", "P4", "SEV-4", "#0E8A16", "LOW"},
	RiskInfo:     {"Lowest", "info", "P5", "SEV-5", "#1D76DB", "INFO"},
}

// Scale returns r on every destination's scale. An unknown Risk reads as
// RiskInfo, so a mapping never fails; Event.Validate rejects unknown risks
// before any destination sees them.
func (r Risk) Scale() RiskScale {
	if s, ok := riskScales[r]; ok {
		return s
	}
	return riskScales[RiskInfo]
}

// JiraPriority returns the Jira priority name for r (Highest ... Lowest).
func (r Risk) JiraPriority() string { return r.Scale().JiraPriority }

// PagerDutySeverity returns the PagerDuty severity for r (critical, error,
// warning, info).
func (r Risk) PagerDutySeverity() string { return r.Scale().PagerDutySeverity }

// OpsgeniePriority returns the Opsgenie priority for r (P1 ... P5).
func (r Risk) OpsgeniePriority() string { return r.Scale().OpsgeniePriority }

// DatadogSeverity returns the Datadog incident severity for r (SEV-1 ... SEV-5).
func (r Risk) DatadogSeverity() string { return r.Scale().DatadogSeverity }

// Color returns a hex colour (#RRGGBB) for r.
func (r Risk) Color() string { return r.Scale().Color }

// Label returns r in upper case (CRITICAL ... INFO).
func (r Risk) Label() string { return r.Scale().Label }

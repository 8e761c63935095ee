package notify_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

func TestReportErrIsTheFirstFailure(t *testing.T) {
	first := &notify.Error{Integration: "jira", Op: "test: GET /rest/api/2/myself", Kind: notify.ErrUnauthorized}
	var r notify.Report
	r.Pass("the URL answers", "200 from the site")
	r.Warn("write permission", "checked on the first Send")
	require.NoError(t, r.Err(), "a warning does not fail a Test")
	require.False(t, r.Failed())

	require.False(t, r.Fail("the token belongs to reporter_email", first))
	r.Fail("the project is visible", errors.New("second"))
	r.Skip("the issue type exists", "an earlier check failed")

	require.Same(t, first, r.Err())
	require.True(t, r.Failed())
	require.Len(t, r.Warnings(), 1)
	require.Equal(t, "write permission", r.Warnings()[0].Name)
	require.Equal(t, first.Error(), r.Checks[2].Detail)
}

func TestReportFailedCheckWithoutErrorStillFails(t *testing.T) {
	r := notify.Report{Checks: []notify.Check{{Name: "relay", Status: notify.CheckFailed, Detail: "refused"}}}
	require.EqualError(t, r.Err(), "relay: refused")
}

func TestReportCheck(t *testing.T) {
	var r notify.Report
	require.True(t, r.Check("a", nil, "fine"))
	require.False(t, r.Check("b", errors.New("broken"), "unused"))
	require.Equal(t, []notify.Check{
		{Name: "a", Status: notify.CheckPassed, Detail: "fine"},
		{Name: "b", Status: notify.CheckFailed, Detail: "broken", Err: errors.New("broken")},
	}, r.Checks)
}

func TestReportJSON(t *testing.T) {
	var r notify.Report
	r.Pass("keys are valid", "GET /api/v2/validate_keys answered 200")
	r.Warn("incident_write", "cannot be proven read-only")
	r.Fail("bucket", &notify.Error{Integration: "gcs", Op: "test", StatusCode: 404, Kind: notify.ErrNotFound, Message: "no such bucket"})
	r.Skip("probe", "not asked for")
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.JSONEq(t, `{"checks":[
		{"name":"keys are valid","status":"passed","detail":"GET /api/v2/validate_keys answered 200"},
		{"name":"incident_write","status":"warning","detail":"cannot be proven read-only"},
		{"name":"bucket","status":"failed","detail":"gcs: test: status 404: no such bucket","error":"gcs: test: status 404: no such bucket"},
		{"name":"probe","status":"skipped","detail":"not asked for"}]}`, string(b))
}

func TestReportSkipAll(t *testing.T) {
	var r notify.Report
	r.Fail("keys valid", errors.New("401"))
	r.SkipAll("the keys were not accepted", "incidents readable", "incident_write permission")
	require.Equal(t, []notify.Check{
		{Name: "incidents readable", Status: notify.CheckSkipped, Detail: "the keys were not accepted"},
		{Name: "incident_write permission", Status: notify.CheckSkipped, Detail: "the keys were not accepted"},
	}, r.Checks[1:])
	require.EqualError(t, r.Err(), "401")
}

package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/internal/text"
	"github.com/codedefender/integrations/notify"
)

func TestJSONStringLenMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `"\`, "\n\r\t\b\f\x00\x1f\x7f", "<a>&", "é🚨…", "\u2028\u2029", "\xff\xfe", "a\xc3"} {
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, len(b), jsonStringLen(s), "%q", s)
	}
}

func FuzzJSONStringLen(f *testing.F) {
	f.Add("quote \" \\ \n <>&\u2028 \xff é")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, len(b), jsonStringLen(s))
	})
}

// bigEvent is a valid event (under notify.MaxEventBytes) whose JSON is
// far over MaxBodyBytes.
func bigEvent() notify.Event {
	e := testkit.FullEvent()
	e.Description = strings.Repeat("d<", 300<<10) // 600 KiB, 900 KiB as JSON (< is \u003c)
	e.Details = map[string]string{"script": "https://cdn.example.net/a.js", "dump": strings.Repeat("x", 200<<10)}
	e.Tags = append(e.Tags, strings.Repeat("t", 100<<10))
	return e
}

func TestFitEvent_LongestFieldsFirst(t *testing.T) {
	e := bigEvent()
	require.NoError(t, e.Validate())
	fitted, b, err := fitEvent(e, MaxBodyBytes)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), MaxBodyBytes)
	require.Greater(t, len(b), MaxBodyBytes-4<<10, "cut no more than needed")
	var got notify.Event
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, fitted.Description, got.Description)
	// Kept whole: the identity of the alert and every short field.
	require.Equal(t, e.ID, got.ID)
	require.Equal(t, e.Title, got.Title)
	require.Equal(t, e.Type, got.Type)
	require.Equal(t, e.Risk, got.Risk)
	require.True(t, e.Time.Equal(got.Time))
	require.Equal(t, e.URL, got.URL)
	require.Equal(t, e.Source, got.Source)
	require.Equal(t, e.Tags[:2], got.Tags[:2])
	require.Equal(t, "https://cdn.example.net/a.js", got.Details["script"])
	// Cut, with the marker: the three long fields, the longest the most.
	for _, s := range []string{got.Description, got.Details["dump"], got.Tags[2]} {
		require.True(t, strings.HasSuffix(s, text.TruncationMarker), "%.40q…", s)
	}
	require.Less(t, len(got.Description), len(e.Description))
	require.Less(t, len(got.Details["dump"]), len(e.Details["dump"]))
	// The original is not changed.
	require.Len(t, e.Details["dump"], 200<<10)
	require.Len(t, e.Tags[2], 100<<10)
}

func TestFitEvent_SmallEventIsUntouched(t *testing.T) {
	e := testkit.FullEvent()
	fitted, b, err := fitEvent(e, MaxBodyBytes)
	require.NoError(t, err)
	require.Equal(t, e, fitted)
	want, _ := json.Marshal(e)
	require.Equal(t, want, b)
	require.True(t, fitsUnmeasured(e, MaxBodyBytes))
	require.False(t, fitsUnmeasured(bigEvent(), MaxBodyBytes))
}

func TestFitEvent_TitleAndCountsAsALastResort(t *testing.T) {
	e := testkit.MinimalEvent()
	e.Title = strings.Repeat("T", 400<<10)
	fitted, b, err := fitEvent(e, MaxBodyBytes)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), MaxBodyBytes)
	require.True(t, strings.HasSuffix(fitted.Title, text.TruncationMarker))
	require.Equal(t, e.ID, fitted.ID)

	e = testkit.MinimalEvent()
	e.Tags = make([]string, 100_000) // empty tags: no text, but 300 KB of JSON
	e.URL = "https://console.example.com/" + strings.Repeat("u", 4096)
	fitted, b, err = fitEvent(e, MaxBodyBytes)
	require.NoError(t, err)
	require.LessOrEqual(t, len(b), MaxBodyBytes)
	require.Equal(t, e.Title, fitted.Title)
	require.Nil(t, fitted.Tags)
}

func TestSend_OversizedEventIsDeliveredCut(t *testing.T) {
	for name, pattern := range map[string]string{
		"event as JSON": "",
		"pattern":       `{"title": {{json .Title}}, "description": {{json .Description}}, "dump": {{json .Details.dump}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			m := testkit.NewMockAPI()
			m.On(http.MethodPost, testURL, http.StatusOK, "", nil)
			cfg := validConfig()
			cfg.BodyPattern = pattern
			n, err := New(cfg, notify.WithHTTPClient(m.Client()))
			require.NoError(t, err)
			e := bigEvent()
			r, err := n.Send(context.Background(), e)
			require.NoError(t, err, "an oversized event is delivered, not refused")
			require.Equal(t, e.ID, r.ID)
			reqs := m.Requests()
			require.Len(t, reqs, 1)
			body := reqs[0].Body
			require.LessOrEqual(t, len(body), MaxBodyBytes)
			var got struct{ Title, Description string }
			require.NoError(t, json.Unmarshal(body, &got))
			require.Equal(t, e.Title, got.Title)
			require.True(t, strings.HasSuffix(got.Description, text.TruncationMarker))
			require.NoError(t, Verify(testSecret.Reveal(), reqs[0].Header, body), "signed as sent")
		})
	}
}

func FuzzFitEvent(f *testing.F) {
	f.Add("title", strings.Repeat("desc <&> ", 300), "src", "tag", "key", strings.Repeat("v\x00", 500), "https://x.example/"+strings.Repeat("u", 900), 3)
	f.Add("", "", "", "", "", "", "", 0)
	f.Add(strings.Repeat("T", 5000), "d", "s", "", "", "", "", 50)
	f.Fuzz(func(t *testing.T, title, desc, source, tag, key, val, url string, tags int) {
		const max = 2 << 10
		e := testkit.MinimalEvent()
		e.Title, e.Description, e.Source, e.URL = title, desc, source, url
		e.Details = map[string]string{key: val, "other": desc}
		for i := range tags % 200 {
			e.Tags = append(e.Tags, tag+strings.Repeat("x", i))
		}
		fitted, b, err := fitEvent(e, max)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), max)
		want, err := json.Marshal(fitted)
		require.NoError(t, err)
		require.Equal(t, want, b, "the JSON is the fitted event's")
		require.Equal(t, e.ID, fitted.ID)
		require.Equal(t, e.Type, fitted.Type)
		require.Equal(t, e.Risk, fitted.Risk)
		if jsonStringLen(title)+jsonStringLen(key) < 600 {
			// Everything else fits in max when emptied: the title stays.
			require.Equal(t, e.Title, fitted.Title, "a short title is kept")
		}
	})
}

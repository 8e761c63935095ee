package scrub_test

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/scrub"
)

func TestScrubber(t *testing.T) {
	s := scrub.New("tok-abc", "ab", "https://hooks.slack.com/services/T1/B2/abcdefghijklmnop?key=qwertyuiop123")
	out := s.Scrub("a tok-abc b tok%2Dabc /services/T1/B2/abcdefghijklmnop abcdefghijklmnop qwertyuiop123 ab")
	require.NotContains(t, out, "tok-abc")
	require.NotContains(t, out, "abcdefghijklmnop")
	require.NotContains(t, out, "qwertyuiop123")
	require.Equal(t, "basic [REDACTED]", s.Scrub("basic "+base64.StdEncoding.EncodeToString([]byte("tok-abc"))))
	require.Contains(t, out, " ab", "values too short to be credentials are not scrubbed out of ordinary text")
	var nilScrubber *scrub.Scrubber
	require.Equal(t, "x", nilScrubber.Scrub("x"))
}

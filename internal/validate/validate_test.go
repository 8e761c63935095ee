package validate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/validate"
	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestCheckSecret(t *testing.T) {
	var fe validate.Errors
	require.False(t, fe.CheckSecret("a", "", true))
	require.True(t, fe.CheckSecret("b", "", false))
	require.False(t, fe.CheckSecret("c", notify.Redacted, true))
	require.False(t, fe.CheckSecret("d", "tok\r\nX-Evil: 1", true))
	require.True(t, fe.CheckSecret("e", "fine", true))
	err := fe.Err()
	require.EqualError(t, err, "invalid: a: is required; c: holds the [REDACTED] mask, not a credential: enter the real value again; d: must not contain line breaks or control characters")
	notifytest.AssertNoSecret(t, err, "tok\r\nX-Evil: 1")
}

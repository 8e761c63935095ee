package testkit_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/internal/testkit"
	"github.com/codedefender/integrations/notify"
)

func TestUnmasked(t *testing.T) {
	require.Equal(t, []notify.Secret{"k1", "k2"}, testkit.Unmasked("k1", "", notify.Redacted, "k2"))
	require.Empty(t, testkit.Unmasked(notify.Redacted))
}

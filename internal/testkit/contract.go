package testkit

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

// Unmasked returns the secrets that are set and not the console's mask,
// for the secrets function of RunValidate: a config's own credential is
// asserted absent from its errors unless it is the mask, which an error
// may name.
func Unmasked(secrets ...notify.Secret) []notify.Secret {
	var out []notify.Secret
	for _, s := range secrets {
		if s != "" && !s.IsMasked() {
			out = append(out, s)
		}
	}
	return out
}

// closer is what every destination's Notifier is.
type closer interface {
	notify.Notifier
	Close() error
}

// CloseContract checks the Close contract every destination keeps: Close
// may be called more than once, and afterwards Send of e and Test return a
// permanent error saying so, and nothing more reaches the destination.
// requests counts what the destination has received so far.
func CloseContract(t *testing.T, n closer, e notify.Event, requests func() int, secrets ...notify.Secret) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "Close may be called more than once")
	before := requests()

	_, err := n.Send(ctx, e)
	require.ErrorIs(t, err, notify.ErrRejected)
	require.ErrorContains(t, err, "closed")
	require.False(t, notify.IsRetryable(err), "a closed notifier stays closed")
	require.ErrorContains(t, n.Test(ctx), "closed")
	require.Equal(t, before, requests(), "a closed notifier sends nothing")
	notifytest.AssertNoSecret(t, err, secrets...)
}

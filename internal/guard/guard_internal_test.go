package guard

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

// TestPlainHTTPToPublicAddressIsRefusedAtDialTime calls the guarded
// dialer's Control with the address a host name would have resolved to; no
// connection is made.
func TestPlainHTTPToPublicAddressIsRefusedAtDialTime(t *testing.T) {
	control := guardedDialer(true).ControlContext
	plain := context.WithValue(context.Background(), plaintextKey{}, true)

	err := control(plain, "tcp4", "93.184.216.34:80", nil)
	require.ErrorIs(t, err, notify.ErrBlockedAddress)
	require.Contains(t, err.Error(), "plain http:// only to a private or loopback address")

	require.NoError(t, control(plain, "tcp4", "10.1.2.3:8088", nil))
	require.NoError(t, control(context.Background(), "tcp4", "93.184.216.34:443", nil), "https may go to public addresses")
	require.ErrorIs(t, control(plain, "tcp4", "169.254.169.254:80", nil), notify.ErrBlockedAddress)
}

package notify_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
)

// FuzzEventJSON decodes arbitrary JSON as an Event and validates it: no
// panic, and a valid event survives a round trip unchanged.
func FuzzEventJSON(f *testing.F) {
	f.Add([]byte(`{"id":"evt-1","type":"incident","title":"t","risk":"high","time":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"id":"evt-1","type":"TEST","title":"t","risk":"INFO","time":"2026-01-01T00:00:00Z","details":{"a":"b"},"tags":["x"]}`))
	f.Add([]byte(`{"id":"","risk":"nope"}`))
	f.Add([]byte(`{"time":"not a time"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"id":"a.b","title":"\u0000","url":"javascript:x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var e notify.Event
		if json.Unmarshal(data, &e) != nil {
			return
		}
		if e.Validate() != nil {
			return
		}
		b, err := json.Marshal(e)
		require.NoError(t, err)
		var back notify.Event
		require.NoError(t, json.Unmarshal(b, &back))
		require.NoError(t, back.Validate())
		require.Equal(t, e.ID, back.ID)
		require.Equal(t, e.Risk, back.Risk)
		require.True(t, e.Time.Equal(back.Time))
	})
}

// FuzzRegistryBuild feeds arbitrary bytes to Registry.Build: no panic, and
// every failure is an error, never a nil Notifier with a nil error.
func FuzzRegistryBuild(f *testing.F) {
	var r notify.Registry
	require.NoError(f, r.Register("fake", fakeFactory))
	f.Add([]byte(`{"type":"fake","config":{"name":"a","token":"tttt"}}`))
	f.Add([]byte(`{"type":"fake","config":{"name":"a","token":"tttt","port":1e400}}`))
	f.Add([]byte(`{"type":"nope","config":null}`))
	f.Add([]byte(`{"type":"fake","config":[1,2]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := r.Build(data)
		require.True(t, (n == nil) != (err == nil), "exactly one of notifier and error")
	})
}

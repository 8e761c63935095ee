package outbox_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/codedefender/integrations/outbox/internal/pgtest"
)

// TestMain runs the tests, or a child process of a crash or rate-limit test
// when the test binary is re-executed with childEnv set; it stops the
// PostgreSQL cluster the tests started and then checks that no goroutine
// was left behind.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	code := m.Run()
	pgtest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

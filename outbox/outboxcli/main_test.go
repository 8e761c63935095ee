package outboxcli_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/codedefender/integrations/outbox/internal/pgtest"
)

func TestMain(m *testing.M) {
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

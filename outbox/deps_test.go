package outbox_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDriversCompileApart checks that importing one driver never compiles
// the other's database library, and that the core needs neither.
func TestDriversCompileApart(t *testing.T) {
	for pkg, banned := range map[string][]string{
		"./sqlite":   {"github.com/jackc/pgx", "riverpgxv5"},
		"./postgres": {"modernc.org/sqlite", "riversqlite"},
		".":          {"github.com/jackc/pgx", "riverpgxv5", "modernc.org/sqlite", "riversqlite"},
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		require.NoError(t, err, "%s", out)
		for _, dep := range strings.Fields(string(out)) {
			for _, b := range banned {
				require.NotContains(t, dep, b, "%s compiles %s", pkg, dep)
			}
		}
	}
}

package notifytest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/codedefender/integrations/notify"
	"github.com/codedefender/integrations/notify/notifytest"
)

func TestFieldsOf(t *testing.T) {
	err := fmt.Errorf("slack: %w", &notify.ValidationError{Fields: []notify.FieldError{{Field: "a", Message: "x"}, {Field: "b[1]", Message: "y"}}})
	require.Equal(t, []string{"a", "b[1]"}, notifytest.FieldsOf(err))
	require.Nil(t, notifytest.FieldsOf(nil))
	require.Nil(t, notifytest.FieldsOf(context.Canceled))
}

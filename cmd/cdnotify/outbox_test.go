package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// cdnotify outbox hands its arguments and streams to cdnotify-outbox and
// returns its exit status.
func TestOutboxRunsThePlugin(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, outboxCommand)
	require.NoError(t, os.WriteFile(plugin, []byte("#!/bin/sh\necho \"args: $*\"\necho oops >&2\nexit 4\n"), 0o755))
	lookPath := func(name string) (string, error) {
		require.Equal(t, outboxCommand, name)
		return plugin, nil
	}
	var stdout, stderr bytes.Buffer
	code := runOutbox(context.Background(), []string{"list", "--db", "sqlite:alerts.db"}, lookPath,
		strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, 4, code)
	require.Equal(t, "args: list --db sqlite:alerts.db\n", stdout.String())
	require.Equal(t, "oops\n", stderr.String())
}

func TestOutboxWithoutThePluginSaysHowToInstallIt(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := runOutbox(context.Background(), []string{"list"}, func(string) (string, error) {
		return "", errors.New("not found")
	}, strings.NewReader(""), &stdout, &stderr)
	require.Equal(t, exitUsage, code)
	require.Empty(t, stdout.String())
	require.Contains(t, stderr.String(), outboxInstall)
}

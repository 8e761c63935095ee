// Package pgtest runs a throwaway PostgreSQL cluster for the outbox's tests:
// initdb in a temporary directory, the server on a unix socket in that
// directory only (no TCP), every database created by a test dropped with
// the cluster when the test binary ends. PostgreSQL refuses to run as root,
// so as root the cluster belongs to the "postgres" user (created when
// missing). Without PostgreSQL's binaries the tests fail, never skip.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Missing is the message of a machine without PostgreSQL.
const Missing = "PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's postgresql " +
	"(apt-get install postgresql; .ci/run does) or put its bin directory on PATH"

const port = 5432

var (
	mu      sync.Mutex
	cluster *Cluster
	seq     atomic.Int64
)

// Cluster is a running throwaway server.
type Cluster struct {
	dir    string
	bin    string
	cred   *syscall.Credential
	socket string
	owned  bool
}

// URL returns the URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", name, c.socket, port)
}

// Database creates a fresh database for t and returns its URL. It fails t
// when the cluster cannot start.
func Database(t testing.TB) string {
	t.Helper()
	c, err := shared()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.URL(name)
}

func shared() (*Cluster, error) {
	mu.Lock()
	defer mu.Unlock()
	if cluster != nil {
		return cluster, nil
	}
	c, err := start()
	if err != nil {
		return nil, err
	}
	cluster = c
	return c, nil
}

// Stop stops the shared cluster, if one was started, and removes its
// directory. TestMain calls it after the tests.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if cluster == nil {
		return
	}
	cluster.stop()
	cluster = nil
}

func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New(Missing)
}

func start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, bin: bin, socket: dir}
	if os.Geteuid() == 0 {
		cred, err := postgresUser()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		c.cred = cred
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	opts := fmt.Sprintf("-k %s -p %d -c listen_addresses='' -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB", dir, port)
	if out, err := c.run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w: %s %s", err, out, log)
	}
	c.owned = true
	return c, nil
}

func (c *Cluster) stop() {
	if c.owned {
		_, _ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	}
	_ = os.RemoveAll(c.dir)
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd.CombinedOutput()
}

// postgresUser returns the credential of the "postgres" user, creating a
// system user of that name when it is missing.
func postgresUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("create the postgres user: %w: %s", err, out)
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, err
		}
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

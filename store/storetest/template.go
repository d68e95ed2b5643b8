package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Template returns the name of a new database for t that starts as a copy
// of the one build made of an empty database. build runs once per test
// binary and key (migrating takes most of a small test's setup, more so
// under -race and on PostgreSQL); every caller gets its own copy, removed
// when the test ends, so tests stay as independent as with DSN. On SQLite
// the copy is a copy of the file, on PostgreSQL CREATE DATABASE … TEMPLATE.
//
// The package's TestMain must run Main, which removes the templates.
func Template(t testing.TB, key string, build func(ctx context.Context, dsn string) error) string {
	t.Helper()
	if !mainRunning() {
		t.Fatal("storetest.Template needs the package's TestMain to call storetest.Main (it removes the templates)")
	}
	tp := templates.get(key)
	tp.once.Do(func() { tp.err = tp.build(key, build) })
	if tp.err != nil {
		t.Fatalf("template database %q: %v", key, tp.err)
	}
	if tp.pgAdmin != "" {
		return newPostgresDB(t, tp.pgAdmin, tp.name)
	}
	dst := filepath.Join(t.TempDir(), "test.db")
	for _, suffix := range []string{"", "-wal"} {
		if err := copyFile(tp.name+suffix, dst+suffix); err != nil && !(suffix != "" && errors.Is(err, os.ErrNotExist)) {
			t.Fatalf("copy template database %q: %v", key, err)
		}
	}
	return dst
}

// Main runs the tests (m.Run) and then removes the template databases
// Template made; a package that uses Template calls it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }
func Main(m *testing.M) int {
	templates.mu.Lock()
	templates.running = true
	templates.mu.Unlock()
	code := m.Run()
	if err := templates.removeAll(); err != nil {
		fmt.Fprintln(os.Stderr, "storetest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func mainRunning() bool {
	templates.mu.Lock()
	defer templates.mu.Unlock()
	return templates.running
}

var templates = &templateSet{byKey: map[string]*template{}}

// templateSet is the test binary's templates; package state because one
// template serves every test of the binary.
type templateSet struct {
	mu      sync.Mutex
	running bool
	byKey   map[string]*template
}

type template struct {
	once sync.Once
	err  error
	// pgAdmin is the server's admin DSN when the template is a PostgreSQL
	// database called name; otherwise name is the SQLite file.
	pgAdmin string
	name    string
	dir     string // SQLite: the template's directory
}

func (s *templateSet) get(key string) *template {
	s.mu.Lock()
	defer s.mu.Unlock()
	tp := s.byKey[key]
	if tp == nil {
		tp = &template{}
		s.byKey[key] = tp
	}
	return tp
}

func (tp *template) build(key string, build func(ctx context.Context, dsn string) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	admin := os.Getenv(Env)
	if admin == "" {
		dir, err := os.MkdirTemp("", "layerwise-template-")
		if err != nil {
			return err
		}
		tp.dir = dir
		tp.name = filepath.Join(dir, "template.db")
		// build closes the database: SQLite folds the WAL into the file
		// when the last connection closes.
		return build(ctx, tp.name)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return fmt.Errorf("%s: %w", Env, err)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return fmt.Errorf("%s: %w", Env, err)
	}
	defer db.Close()
	name := "lwt_" + randomHex()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		return fmt.Errorf("create template database on %s: %w", u.Redacted(), err)
	}
	tp.pgAdmin, tp.name = admin, name
	u.Path = "/" + name
	if err := build(ctx, u.String()); err != nil {
		return err
	}
	// No connections from now on: CREATE DATABASE … TEMPLATE refuses a
	// source someone is connected to. FORCE-free: build closed its own.
	if _, err := db.ExecContext(ctx, `ALTER DATABASE `+name+` WITH ALLOW_CONNECTIONS false`); err != nil {
		return fmt.Errorf("close template database %s: %w", name, err)
	}
	return nil
}

func (s *templateSet) removeAll() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for key, tp := range s.byKey {
		switch {
		case tp.pgAdmin != "":
			if err := dropPostgresDB(tp.pgAdmin, tp.name); err != nil {
				errs = append(errs, fmt.Errorf("drop template database %q: %w", key, err))
			}
		case tp.dir != "":
			if err := os.RemoveAll(tp.dir); err != nil {
				errs = append(errs, fmt.Errorf("remove template database %q: %w", key, err))
			}
		}
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func randomHex() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

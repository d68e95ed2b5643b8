// Package store holds the gorm models, the migrations and every query,
// together with the domain rules that need the database: tag history,
// usage accounting and prune planning.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Store is the database handle. A Store made by Tx is bound to that
// transaction.
type Store struct {
	db      *gorm.DB
	now     func() time.Time
	dialect string // "sqlite" or "postgres"
	maxBlob int64  // the largest blob size accepted; 0: DefaultMaxBlobSize
	// planBatch: namespaces a streamed plan reads at once; 0: planBatch
	// (tests set 1 to cross batch boundaries on small registries).
	planBatch int
	// snapshot: this Store reads one consistent view (Snapshot); nested
	// Snapshot calls reuse it.
	snapshot bool

	dummy *dummyHash // shared by the Stores of transactions
	// writer is this process's turn to write, taken before a write
	// transaction takes a pooled connection: writers waiting for the
	// database's one writer lock (BEGIN IMMEDIATE, the advisory lock) would
	// otherwise each hold a connection while they wait, and a burst of
	// them (the webhook under load) leaves none for the pages' reads.
	writer chan struct{}
}

// dummyHash is a bcrypt hash that logins of unknown users are checked
// against, made once on first use, and the bcrypt cost of new hashes.
type dummyHash struct {
	once sync.Once
	hash []byte
	cost int // 0: bcrypt.DefaultCost (SetPasswordCost)
}

// SetPasswordCost sets the bcrypt cost of the passwords this Store and its
// transactions hash from now on. Only tests lower it: under the race
// detector one hash at the default cost takes seconds.
func (s *Store) SetPasswordCost(cost int) { s.dummy.cost = cost }

func (d *dummyHash) bcryptCost() int {
	if d.cost == 0 {
		return bcrypt.DefaultCost
	}
	return d.cost
}

// bound is this Store bound to db, a transaction (snapshot: a read-only
// one): every setting is carried over, so a field added to Store reaches
// the Stores of transactions without a list to keep up to date.
func (s *Store) bound(db *gorm.DB, snapshot bool) *Store {
	c := *s
	c.db, c.snapshot = db, snapshot
	return &c
}

// ErrNotFound is wrapped by every "no such namespace/stream/tag/image" error.
var ErrNotFound = errors.New("not found")

// ErrInvalid is wrapped by errors about malformed names and refused requests.
var ErrInvalid = errors.New("invalid")

// IsPostgres says whether a LAYERWISE_DB value names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (and creates and migrates) the database named by dsn: a SQLite
// file path, ":memory:", or a postgres:// DSN.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s, err := OpenUnmigrated(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, len(migrations)); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate database %s: %w", Redact(dsn), err)
	}
	if err := s.ensureUsage(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("database %s: %w", Redact(dsn), err)
	}
	return s, nil
}

// OpenUnmigrated opens the database without touching its schema (the copy
// command checks that a destination is empty first).
func OpenUnmigrated(ctx context.Context, dsn string) (*Store, error) {
	if dsn == "" {
		return nil, fmt.Errorf("open database: empty LAYERWISE_DB")
	}
	cfg := &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		// Kubernetes timestamps have whole seconds; so do ours, so that an
		// export read back compares equal.
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	}
	var (
		db      *gorm.DB
		err     error
		dialect = "sqlite"
	)
	if IsPostgres(dsn) {
		dialect = "postgres"
		db, err = openPostgres(dsn, cfg)
	} else {
		db, err = gorm.Open(sqlite.Open(sqliteDSN(dsn)), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	switch {
	case dsn == ":memory:":
		// Every connection to :memory: is a new empty database.
		sqlDB.SetMaxOpenConns(1)
	case dialect == "postgres":
		sqlDB.SetMaxOpenConns(8)
		sqlDB.SetMaxIdleConns(8)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	default:
		sqlDB.SetMaxOpenConns(4)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("open database %s: %w", Redact(dsn), err)
	}
	return &Store{db: db, dialect: dialect, now: func() time.Time { return time.Now().UTC().Truncate(time.Second) }, dummy: &dummyHash{}, writer: make(chan struct{}, 1)}, nil
}

// Dialect is "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.dialect }

func (s *Store) postgres() bool { return s.dialect == "postgres" }

// sqliteDSN turns a path into a mattn/go-sqlite3 DSN: WAL so readers never
// wait for the writer, foreign keys on, a busy timeout instead of
// "database is locked", and immediate transactions so two writers queue up
// rather than deadlock on a lock upgrade.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", "10000")
	q.Set("_txlock", "immediate")
	if path != ":memory:" {
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "NORMAL")
	}
	return "file:" + path + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// DB gives the gorm handle to sub-packages that write in bulk (generate).
func (s *Store) DB() *gorm.DB { return s.db }

// SetClock replaces the store's clock, its one dependency on time: the
// times it records (history entries, runs, pins, audit events) and the
// "now" that prune and usage measure ages from. The default is the wall
// clock in whole seconds (UTC); tests set a fixed one to age histories.
// Leases keep the wall clock whatever the store's (store/leases.go).
func (s *Store) SetClock(now func() time.Time) {
	s.now = func() time.Time { return now().UTC().Truncate(time.Second) }
}

// Now is the store's current time (UTC).
func (s *Store) Now() time.Time { return s.now() }

// Tx runs fn in one transaction: everything fn writes lands, or nothing.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if inTx(s.db) {
		return fn(s)
	}
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return fmt.Errorf("wait to write: %w", ctx.Err())
		}
	}
	return s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		if s.postgres() {
			// One writer at a time, as on SQLite (_txlock=immediate): the
			// rules that read, decide and write (history positions, "create
			// unless it exists") stay correct under concurrent requests and
			// replicas. Reads outside Tx never wait for it.
			if err := db.Exec(`SELECT pg_advisory_xact_lock(?)`, writerLockKey).Error; err != nil {
				return fmt.Errorf("take the writer lock: %w", err)
			}
		}
		// Every change lands with a new data version: replicas poll it to
		// drop cached pages (handlers.pageCache).
		if err := bumpDataVersion(db); err != nil {
			return fmt.Errorf("bump the data version: %w", err)
		}
		tx := s.bound(db, false)
		if err := fn(tx); err != nil {
			return err
		}
		// The counted-once figures move with the change, in the same
		// transaction: readers never see one without the other.
		return tx.settleUsage(ctx)
	})
}

// Snapshot runs fn against one consistent view of the database, for reads
// that take several statements to build one picture (usage, prune plan,
// exports, db copy): rows written meanwhile by other requests, replicas or
// the CLI are either all visible or not at all, so ids, links and sizes read
// by separate statements agree. Inside Tx or another Snapshot it reuses
// that view. fn must not write.
func (s *Store) Snapshot(ctx context.Context, fn func(s *Store) error) error {
	if s.snapshot || inTx(s.db) {
		return fn(s)
	}
	if s.postgres() {
		// REPEATABLE READ: every statement sees the transaction's first
		// snapshot. Read-only, so it never takes the writer lock.
		return s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
			return fn(s.bound(db, true))
		}, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	// SQLite: the pool's transactions are BEGIN IMMEDIATE (one writer), which
	// would make a long read block every writer. A plain deferred BEGIN on
	// one connection gives WAL's read snapshot from its first SELECT to the
	// end, and writers go on meanwhile.
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	// Ends the read even when ctx is cancelled: the connection goes back to
	// the pool with no transaction open.
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK") //nolint:errcheck // a read has nothing to undo
	db := s.db.WithContext(ctx).Session(&gorm.Session{NewDB: true})
	db.Statement.ConnPool = conn
	return fn(s.bound(db, true))
}

func inTx(db *gorm.DB) bool {
	_, ok := db.Statement.ConnPool.(gorm.TxCommitter)
	return ok
}

func (s *Store) conn(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// kindError carries a message a person reads and a sentinel that callers
// (HTTP status mapping, tests) match with errors.Is.
type kindError struct {
	kind error
	msg  string
}

func (e kindError) Error() string   { return e.msg }
func (e kindError) Is(t error) bool { return t == e.kind }

func notFoundf(format string, a ...any) error {
	return kindError{ErrNotFound, fmt.Sprintf(format, a...)}
}

func invalidf(format string, a ...any) error {
	return kindError{ErrInvalid, fmt.Sprintf(format, a...)}
}

func existsf(format string, a ...any) error {
	return kindError{ErrExists, fmt.Sprintf(format, a...)}
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

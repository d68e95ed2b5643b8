package handlers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

// pageCache keeps what pages read from the database (a namespace's
// figures, a stream with its sizes, an image with its layers, the
// namespace settings) for exactly as long as the database's data version
// stays the same. Every write transaction bumps that version (store.Tx), on
// whichever replica or CLI it ran, and a request reads it once before its
// first cached read, so a page never shows less than what was committed
// when the request began, on every replica; a change made through this
// server also bumps gen. Pages are read far more often than pushes arrive
// (thousands of requests a second against tens of pushes), so most
// requests between two writes are served from here.
type pageCache struct {
	gen atomic.Int64

	mu      sync.Mutex
	version cacheVersion
	entries map[string]any
	// loading holds the reads in flight by version and key: requests that
	// miss together wait for one read instead of all running it (after a
	// push, every open connection misses at once).
	loading map[loadKey]*pageLoad
}

// loadKey names a read in flight: the version it is kept under and its key.
type loadKey struct {
	v   cacheVersion
	key string
}

type pageLoad struct {
	done    chan struct{}
	val     any
	err     error
	waiters int // requests waiting for it (under pageCache.mu)
}

// maxEntries bounds the cache; at the bound it starts over (simple, and a
// miss costs only the queries a page makes anyway).
const maxEntries = 4096

// errLoadPanicked is what the requests waiting for a read get when the
// read panicked (the request that ran it answers 500 through the recover
// middleware).
var errLoadPanicked = errors.New("the page's read failed")

// bump is called after every change made here.
func (pc *pageCache) bump() { pc.gen.Add(1) }

// PagesChanged drops the cached page reads: the server registers it with
// change.Service.OnChange, so a page after your own change is never stale.
func (h *Handler) PagesChanged() { h.pages.bump() }

// versionKey carries a request's *requestVersion in its context.
type versionKey struct{}

// requestVersion is the data version a request's cached reads are keyed
// on, read from the database once per request (on its first cached read).
type requestVersion struct {
	once sync.Once
	v    int64
	err  error
}

// OneVersionPerRequest lets the cached reads of a request share one read
// of the data version.
func (h *Handler) OneVersionPerRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), versionKey{}, &requestVersion{})))
		return next(c)
	}
}

// cacheVersion is what the cache is keyed on: gen and the database's data
// version. Both only grow.
type cacheVersion struct{ gen, data int64 }

// atLeast is the newer of both in each part: a version no older than
// either (every change counted by one of them has committed).
func (v cacheVersion) atLeast(o cacheVersion) cacheVersion {
	return cacheVersion{max(v.gen, o.gen), max(v.data, o.data)}
}

// version is this request's version: gen and the database's data version
// as this request first read it (read now outside a request).
func (h *Handler) version(ctx context.Context) (cacheVersion, error) {
	rv, _ := ctx.Value(versionKey{}).(*requestVersion)
	if rv == nil {
		rv = &requestVersion{}
	}
	rv.once.Do(func() { rv.v, rv.err = h.Store.DataVersion(ctx) })
	if rv.err != nil {
		return cacheVersion{}, rv.err
	}
	return cacheVersion{h.pages.gen.Load(), rv.v}, nil
}

// cached returns the value for key at the current version, or reads it
// (once, for every request that asks at the same time). What is kept under
// a version is never older than it: the version is read before the value.
// The cache only moves forward: a request that read its version before
// another one moved the cache on is served from the newer entries (newer
// than what it asked for, never older), instead of dropping them.
func cached[T any](ctx context.Context, h *Handler, key string, load func() (T, error)) (T, error) {
	rv, err := h.version(ctx)
	if err != nil {
		// Without the version nothing can be kept; the read itself says
		// what is wrong with the database.
		return load()
	}
	pc := &h.pages
	pc.mu.Lock()
	v := pc.version.atLeast(rv)
	if pc.version != v || len(pc.entries) >= maxEntries {
		pc.version, pc.entries = v, map[string]any{}
	}
	if e, ok := pc.entries[key]; ok {
		pc.mu.Unlock()
		return e.(T), nil
	}
	lkey := loadKey{v, key}
	if l, ok := pc.loading[lkey]; ok {
		l.waiters++
		pc.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
		if l.err == nil {
			return l.val.(T), nil
		}
		// The other request's read failed (perhaps its client left and
		// canceled it): read for this one.
		return load()
	}
	if pc.loading == nil {
		pc.loading = map[loadKey]*pageLoad{}
	}
	l := &pageLoad{done: make(chan struct{}), err: errLoadPanicked}
	pc.loading[lkey] = l
	pc.mu.Unlock()
	defer func() {
		pc.mu.Lock()
		delete(pc.loading, lkey)
		if l.err == nil && pc.version == v && len(pc.entries) < maxEntries {
			pc.entries[key] = l.val
		}
		pc.mu.Unlock()
		close(l.done)
	}()
	val, err := load()
	l.val, l.err = val, err
	return val, err
}

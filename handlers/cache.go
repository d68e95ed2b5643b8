package handlers

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// pageCache keeps what pages read from the database (a stream with its
// sizes, an image with its layers, the namespace settings) for as long as
// the data version stays the same. The version is a counter every change
// made through this server bumps (so a page after your own change is never
// stale) and the database's data version, which every write transaction
// bumps and jobs.DataVersions reads every second (so a change made
// elsewhere, by the CLI or another replica, shows within about a second).
type pageCache struct {
	gen atomic.Int64

	mu      sync.Mutex
	version string
	entries map[string]any
}

// maxEntries bounds the cache; at the bound it starts over (simple, and a
// miss costs only the queries a page makes anyway).
const maxEntries = 4096

// bump is called after every change made here.
func (pc *pageCache) bump() { pc.gen.Add(1) }

// PagesChanged drops the cached page reads: the server registers it with
// change.Service.OnChange, so a page after your own change is never stale.
func (h *Handler) PagesChanged() { h.pages.bump() }

func (h *Handler) version() string {
	v := fmt.Sprint(h.pages.gen.Load())
	if h.Versions != nil {
		v += "/" + fmt.Sprint(h.Versions.DataVersion())
	}
	return v
}

// cached returns the value for key at the current version, or computes it.
func cached[T any](h *Handler, key string, load func() (T, error)) (T, error) {
	pc := &h.pages
	v := h.version()
	pc.mu.Lock()
	if pc.version != v || len(pc.entries) >= maxEntries {
		pc.version, pc.entries = v, map[string]any{}
	}
	if e, ok := pc.entries[key]; ok {
		pc.mu.Unlock()
		return e.(T), nil
	}
	pc.mu.Unlock()
	val, err := load()
	if err != nil {
		return val, err
	}
	pc.mu.Lock()
	if pc.version == v {
		pc.entries[key] = val
	}
	pc.mu.Unlock()
	return val, nil
}

package store

import (
	"context"
	"fmt"
)

// TagMove is a change the next prune would see: tag Ref gets Image as a
// new current entry, created now — what a promotion or a rollback writes.
type TagMove struct {
	Ref   TagRef
	Image string // digest
}

// PruneEffect is what a TagMove does to the next prune of its namespace:
// the revisions it moves into the plan and out of it, and what the
// namespace's part of the plan frees before and after (each blob once).
type PruneEffect struct {
	Added, Removed          []PruneRevision
	BytesBefore, BytesAfter int64
}

// None says the move changes nothing in the next prune.
func (e PruneEffect) None() bool {
	return len(e.Added) == 0 && len(e.Removed) == 0 && e.BytesBefore == e.BytesAfter
}

// PreviewPrune says what move would do to the next prune without writing
// anything: it plans the namespace, puts the new entry on top of the tag in
// memory (every entry moves down one position, as the write would move
// them) and plans again. The rules are the plan's own (policy, pins,
// retention rules, pulls). Like a plan it reads the whole registry
// (streamed, in bounded memory: previewStreamed), so pages call it on
// request only (a confirmation), never per listing.
func (s *Store) PreviewPrune(ctx context.Context, policy Policy, move TagMove) (PruneEffect, error) {
	if err := move.Ref.Validate(); err != nil {
		return PruneEffect{}, err
	}
	e, err := s.previewStreamed(ctx, policy, move)
	if err != nil {
		return PruneEffect{}, fmt.Errorf("preview prune: %w", err)
	}
	return e, nil
}

// effectOf compares the namespace's plan before and after a move.
func effectOf(before, after *PrunePlan) PruneEffect {
	var e PruneEffect
	in := func(p *PrunePlan) map[int64]bool {
		m := make(map[int64]bool, len(p.Revisions))
		for _, r := range p.Revisions {
			m[r.id] = true
		}
		return m
	}
	was, is := in(before), in(after)
	for _, r := range after.Revisions {
		if !was[r.id] {
			e.Added = append(e.Added, r)
		}
	}
	for _, r := range before.Revisions {
		if !is[r.id] {
			e.Removed = append(e.Removed, r)
		}
	}
	for _, n := range before.Namespaces {
		e.BytesBefore = n.BytesFreed
	}
	for _, n := range after.Namespaces {
		e.BytesAfter = n.BytesFreed
	}
	return e
}

// moveTag puts a new entry (id -1: no row has it) on top of a tag's
// history in memory, creating the tag when the stream has none of that
// name; false when the stream is not in the graph.
// img is the image's id (0: the registry has none of that digest).
func (g *graph) moveTag(move TagMove, img, now int64) bool {
	for _, n := range g.namespaces {
		if n.name != move.Ref.Namespace {
			continue
		}
		for _, st := range n.streams {
			if st.name != move.Ref.Stream {
				continue
			}
			var tag *gTag
			for _, t := range st.tags {
				if t.name == move.Ref.Tag {
					tag = t
				}
			}
			if tag == nil {
				// A new tag: the namespace's retention rules apply to it by
				// name, as to any tag the graph reads.
				tag = &gTag{name: move.Ref.Tag, mask: n.rules.match(move.Ref.Tag)}
				st.tags = append(st.tags, tag)
			}
			events := make([]gEvent, 0, len(tag.events)+1)
			events = append(events, gEvent{id: -1, position: 0, image: img, created: now})
			for _, ev := range tag.events {
				ev.position++
				events = append(events, ev)
			}
			tag.events = events
			return true
		}
	}
	return false
}

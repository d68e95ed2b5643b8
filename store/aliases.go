package store

import (
	"context"
	"fmt"
	"strings"
)

// Followers are the tags of ref's stream that track ref as aliases,
// directly or through other aliases, in breadth-first order.
func (s *Store) Followers(ctx context.Context, ref TagRef) ([]string, error) {
	st, err := s.findStream(ctx, StreamRef{ref.Namespace, ref.Stream})
	if err != nil {
		return nil, err
	}
	var aliases []Tag
	if err := s.conn(ctx).Where("stream_id = ? AND alias = ?", st.ID, true).Order("name").Find(&aliases).Error; err != nil {
		return nil, fmt.Errorf("read alias tags of %s/%s: %w", ref.Namespace, ref.Stream, err)
	}
	var out []string
	for _, a := range aliasClosure(aliases, ref.Tag) {
		out = append(out, a.Name)
	}
	return out, nil
}

// aliasClosure is every alias tag that tracks tag, directly or through
// other aliases, in breadth-first order (nearest first); aliases are the
// stream's alias tags. A cycle ends where it meets a tag already seen.
func aliasClosure(aliases []Tag, tag string) []Tag {
	var out []Tag
	done := map[string]bool{tag: true}
	queue := []string{tag}
	for len(queue) > 0 {
		source := queue[0]
		queue = queue[1:]
		for _, a := range aliases {
			name := a.FromName
			if i := strings.Index(name, ":"); i >= 0 {
				name = name[i+1:]
			}
			if name != source || done[a.Name] {
				continue
			}
			done[a.Name] = true
			out = append(out, a)
			queue = append(queue, a.Name)
		}
	}
	return out
}

// checkAliases refuses a change that would make dst (an alias of tag when
// alias is set, otherwise no alias) close a cycle of alias tags in its
// stream: the rule of aliasMap.check, on the stored tags.
func (s *Store) checkAliases(ctx context.Context, streamID int64, dst TagRef, alias bool, tag string) error {
	if !alias {
		return nil // dst stops following anything: no cycle can appear
	}
	var rows []Tag
	if err := s.conn(ctx).Select("name, from_name").Where("stream_id = ? AND alias = ?", streamID, true).Find(&rows).Error; err != nil {
		return fmt.Errorf("read alias tags of %s/%s: %w", dst.Namespace, dst.Stream, err)
	}
	m := aliasMap{}
	for _, r := range rows {
		m[r.Name] = aliasTarget(r.FromName)
	}
	m[dst.Tag] = tag
	return m.check(StreamRef{dst.Namespace, dst.Stream})
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
)

// target is one existing image stream the pushes go to, with the layers
// of the image its tag last got (a new build shares most of them).
type target struct {
	Namespace, Stream string
	Tags              []string
	Layers            []layer
}

// layer is a blob a manifest names: digest, size and media type.
type layer struct {
	Digest    string `json:"name"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType"`
}

// The shapes read from the API (only what is used).
type nsUsage struct {
	Name    string `json:"name"`
	Streams []struct {
		Name string `json:"name"`
		Tags []struct {
			Name string `json:"name"`
		} `json:"tags"`
	} `json:"streams"`
}

type apiTag struct {
	Image struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Layers []layer `json:"dockerImageLayers"`
	} `json:"image"`
	SizeBytes *int64 `json:"sizeBytes"`
}

// maxDiscoverBody bounds one API answer read while discovering (one
// namespace's usage is tens of KiB; the whole registry's of a small
// dataset a few MiB).
const maxDiscoverBody = 64 << 20

// discover reads the image streams of namespaces (every namespace when
// none is given: fine for a small dataset, 170 MB at 2,000 namespaces),
// picks at most maxStreams of them and the layers of one tagged image
// each. It reads through the dashboard's JSON API, so it needs open reads
// (no account yet) or a token.
func discover(ctx context.Context, c *apiClient, namespaces []string, maxStreams int, rng *rand.Rand) ([]*target, error) {
	var all []nsUsage
	if len(namespaces) == 0 {
		var u struct {
			Namespaces []nsUsage `json:"namespaces"`
		}
		if err := c.getJSON(ctx, "/api/v1/usage", &u); err != nil {
			return nil, err
		}
		all = u.Namespaces
	} else {
		for _, ns := range namespaces {
			var n nsUsage
			if err := c.getJSON(ctx, "/api/v1/namespaces/"+url.PathEscape(ns)+"/usage", &n); err != nil {
				return nil, err
			}
			all = append(all, n)
		}
	}
	var targets []*target
	for _, n := range all {
		for _, s := range n.Streams {
			t := &target{Namespace: n.Name, Stream: s.Name}
			for _, tag := range s.Tags {
				t.Tags = append(t.Tags, tag.Name)
			}
			if len(t.Tags) > 0 {
				targets = append(targets, t)
			}
		}
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("the server holds no tagged image stream to push to (namespaces %v)", namespaces)
	}
	rng.Shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	if maxStreams > 0 && len(targets) > maxStreams {
		targets = targets[:maxStreams]
	}
	// The layers of each stream's current image, a few reads at a time.
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	sem := make(chan struct{}, 8)
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = t.readLayers(ctx, c)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// readLayers reads the layers of the image "latest" (or another tag) holds;
// a manifest list has none of its own, so up to three tags are tried.
func (t *target) readLayers(ctx context.Context, c *apiClient) error {
	tags := append([]string{}, t.Tags...)
	for i, tag := range tags {
		if tag == "latest" {
			tags[0], tags[i] = tags[i], tags[0]
		}
	}
	for i, tag := range tags {
		if i == 3 {
			break
		}
		var at apiTag
		if err := c.getJSON(ctx, tagPath(t.Namespace, t.Stream, tag), &at); err != nil {
			return err
		}
		if len(at.Image.Layers) > 0 {
			t.Layers = at.Image.Layers
			return nil
		}
	}
	return nil // fresh layers only
}

func tagPath(ns, stream, tag string) string {
	return "/api/v1/namespaces/" + url.PathEscape(ns) + "/imagestreamtags/" + url.PathEscape(stream+":"+tag)
}

// apiClient reads the dashboard's API.
type apiClient struct {
	base  *url.URL
	http  *http.Client
	token string // a read token, "" for open reads
}

func (c *apiClient) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+path, nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoverBody+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if len(b) > maxDiscoverBody {
		return fmt.Errorf("GET %s: the answer is larger than %d MiB: name a few namespaces with -namespaces", path, maxDiscoverBody>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %.300s (with accounts, pass a read token with -read-token)", path, resp.Status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

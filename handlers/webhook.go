package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"layerwise/change"
	"layerwise/jobs"
	"layerwise/jobs/registry"
	"layerwise/store"
)

// WebhookActor is the system principal that registry notifications write as.
const WebhookActor = "system:registry"

// webhookMaxBody bounds one notification envelope.
const webhookMaxBody = 1 << 20

// Webhook receives the CNCF distribution registry's notifications
// (POST /api/v1/registry/events, Authorization: Bearer
// LAYERWISE_WEBHOOK_TOKEN). Each tagged manifest push is read back from the
// managed registry and recorded inline, before the answer: the registry
// retries an envelope that did not get a 2xx, so a store failure answers
// 500 and the retry finds the events already applied (they are idempotent).
// A push whose image cannot be read from the registry is counted as failed
// and answered 200: retrying it forever would block the registry's queue,
// and the scheduled sync re-reads it. Each change goes through the Service
// as the principal system:registry, audited once (not at all when a push
// was already recorded).
//
// A manifest pull (GET) is queued as that image's last pull from the
// stream (jobs.PullRecorder records the queue in batches, without a new
// data version: pages cached before a pull stay valid). A pull time is a
// fact about the registry's traffic, not a change anyone made: it is not
// audited. Pulls that Layerwise itself made (reading a push back, the
// sync: User-Agent "layerwise …") are not pulls and are never recorded;
// nor is a HEAD, which only checks that a manifest exists (a client does
// before a push).
type Webhook struct {
	// Registry is the managed registry (LAYERWISE_REGISTRY_URL); nil: not set.
	Registry *registry.Managed
	// Token is LAYERWISE_WEBHOOK_TOKEN; "": not set.
	Token  string
	Change *change.Service
	Log    *slog.Logger
	// Pulls batches pull notifications; nil: each envelope's are recorded
	// before the answer.
	Pulls *jobs.PullRecorder
	// Slots holds one token per envelope being handled (nil: no bound).
	// When it is full the envelope is refused with 503 and Retry-After:
	// the registry keeps it and sends it again, nothing is lost.
	Slots chan struct{}
}

// WebhookResult is the answer: what the envelope held and what came of it.
type WebhookResult struct {
	Events    int `json:"events"`
	Pushes    int `json:"pushes"`    // tagged manifest pushes
	Changed   int `json:"changed"`   // pushes that added a history entry
	Unchanged int `json:"unchanged"` // pushes already recorded (redelivered, or seen by the sync)
	Deletes   int `json:"deletes"`   // manifest deletes that removed history entries
	Pulls     int `json:"pulls"`     // manifest pulls queued as last-pulled times
	// OwnPulls are manifest pulls Layerwise itself made (not recorded).
	OwnPulls int `json:"ownPulls,omitempty"`
	// Ignored counts events that are none of these: blob pushes and pulls,
	// mounts, pushes by digest only.
	Ignored int      `json:"ignored"`
	Skipped []string `json:"skipped,omitempty"` // repositories that map to no image stream
	Failed  []string `json:"failed,omitempty"`  // pushes the registry would not serve back
}

// The notification envelope of distribution (only what is used).
type regEnvelope struct {
	Events *[]regEvent `json:"events"`
}

type regEvent struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Action    string    `json:"action"`
	Target    struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"target"`
	Request struct {
		Method    string `json:"method"`
		UserAgent string `json:"useragent"`
	} `json:"request"`
}

// manifestPull says whether an event is a pull of a manifest.
func (ev regEvent) manifestPull() bool {
	return ev.Action == "pull" && manifestTypes[ev.Target.MediaType] && ev.Target.Digest != ""
}

// manifestTypes are the manifests whose tagged pushes are recorded.
var manifestTypes = map[string]bool{
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
}

func (w *Webhook) authorized(c echo.Context) bool { return BearerIs(c.Request(), w.Token) }

// Events handles one envelope.
func (w *Webhook) Events(c echo.Context) error {
	if w == nil || w.Token == "" || w.Registry == nil {
		return WriteAPIError(c, http.StatusServiceUnavailable,
			"the registry webhook is not configured: set LAYERWISE_WEBHOOK_TOKEN (or serve --webhook-token-file) and LAYERWISE_REGISTRY_URL")
	}
	if !w.authorized(c) {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="layerwise-registry-events"`)
		return WriteAPIError(c, http.StatusUnauthorized,
			"invalid credentials: registry notifications must send Authorization: Bearer LAYERWISE_WEBHOOK_TOKEN")
	}
	if w.Slots != nil {
		select {
		case w.Slots <- struct{}{}:
			defer func() { <-w.Slots }()
		default:
			c.Response().Header().Set("Retry-After", "1")
			return WriteAPIError(c, http.StatusServiceUnavailable, fmt.Sprintf(
				"busy: %d notification envelopes are being recorded; send this one again later (registries retry on their own)", cap(w.Slots)))
		}
	}
	events, err := readEnvelope(c.Request().Body)
	if err != nil {
		return WriteAPIError(c, http.StatusBadRequest, err.Error())
	}
	ctx := c.Request().Context()
	res := WebhookResult{Events: len(events)}
	p := change.System(WebhookActor)
	var pulls []store.Pull
	// Consecutive pushes are recorded together, in one transaction.
	var pending []registry.PushRequest
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		out, err := w.Change.ApplyPushes(ctx, p, w.Registry, pending)
		if err != nil {
			return err // the store failed: 500, and the registry sends the envelope again
		}
		for i, o := range out {
			r := pending[i]
			switch {
			case o.Err == nil && o.Result.Changed:
				res.Changed++
			case o.Err == nil:
				res.Unchanged++
			case registry.IsFetchError(o.Err) || errors.Is(o.Err, store.ErrInvalid):
				w.Log.Warn("registry push not recorded", "repository", r.Repository, "tag", r.Tag, "digest", r.Digest, "err", o.Err)
				res.Failed = append(res.Failed, fmt.Sprintf("%s:%s@%s: %v", r.Repository, r.Tag, r.Digest, o.Err))
			default:
				return o.Err
			}
		}
		pending = pending[:0]
		return nil
	}
	for _, ev := range events {
		t := ev.Target
		switch {
		case ev.manifestPull():
			if registry.OwnRequest(ev.Request.UserAgent) {
				res.OwnPulls++
				continue
			}
			if ev.Request.Method == http.MethodHead {
				// An existence check (a client about to push checks the
				// tag), not a pull: a pull GETs the manifest.
				res.Ignored++
				continue
			}
			ref, err := registry.MapRepository(t.Repository)
			if err != nil {
				res.Skipped = append(res.Skipped, err.Error())
				continue
			}
			res.Pulls++
			pulls = append(pulls, store.Pull{Stream: ref, Digest: t.Digest, At: ev.Timestamp})
		case ev.Action == "push" && manifestTypes[t.MediaType] && t.Tag != "":
			res.Pushes++
			if _, err := registry.MapRepository(t.Repository); err != nil {
				res.Skipped = append(res.Skipped, err.Error())
				continue
			}
			pending = append(pending, registry.PushRequest{Repository: t.Repository, Tag: t.Tag, Digest: t.Digest, At: ev.Timestamp})
		case ev.Action == "push" && manifestTypes[t.MediaType] && t.Tag == "" && t.Digest != "":
			// By digest alone: an OCI referrer (a signature, an SBOM with
			// a subject) is recorded; anything else is ignored.
			if _, err := registry.MapRepository(t.Repository); err != nil {
				res.Skipped = append(res.Skipped, err.Error())
				continue
			}
			// The tagged pushes before it land first, in their order.
			if err := flush(); err != nil {
				return err
			}
			pr, err := w.Change.ApplyDigestPush(ctx, p, w.Registry, t.Repository, t.Digest)
			switch {
			case err == nil && pr.Changed:
				res.Pushes++
				res.Changed++
			case err == nil:
				res.Ignored++
			case registry.IsFetchError(err) || errors.Is(err, store.ErrInvalid):
				w.Log.Warn("registry push by digest not recorded", "repository", t.Repository, "digest", t.Digest, "err", err)
				res.Failed = append(res.Failed, fmt.Sprintf("%s@%s: %v", t.Repository, t.Digest, err))
			default:
				return err
			}
		case ev.Action == "delete" && t.Digest != "":
			if _, err := registry.MapRepository(t.Repository); err != nil {
				res.Skipped = append(res.Skipped, err.Error())
				continue
			}
			// Pushes before the delete land first, in their order.
			if err := flush(); err != nil {
				return err
			}
			n, err := w.Change.ApplyDelete(ctx, p, w.Registry, t.Repository, t.Digest)
			if err != nil {
				return err
			}
			if n > 0 {
				res.Deletes++
			} else {
				res.Ignored++ // a blob, or a manifest no tag history held
			}
		default:
			res.Ignored++
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if len(pulls) > 0 {
		if w.Pulls != nil {
			if err := w.Pulls.Add(pulls); err != nil {
				return WriteAPIError(c, http.StatusServiceUnavailable, err.Error())
			}
		} else if _, err := w.Change.Store.RecordPulls(ctx, pulls); err != nil {
			return err
		}
	}
	if res.Pushes+res.Deletes > 0 || res.Pulls == 0 {
		// An envelope of pulls alone is the common case, logged at debug
		// level: there are a hundred per push.
		w.Log.Info("registry events", "events", res.Events, "pushes", res.Pushes, "changed", res.Changed,
			"unchanged", res.Unchanged, "deletes", res.Deletes, "pulls", res.Pulls, "ignored", res.Ignored, "skipped", len(res.Skipped), "failed", len(res.Failed))
	} else {
		w.Log.Debug("registry events", "events", res.Events, "pulls", res.Pulls, "own pulls", res.OwnPulls, "skipped", len(res.Skipped))
	}
	return c.JSON(http.StatusOK, res)
}

// readEnvelope reads and checks a whole envelope before anything is
// applied: a malformed one is refused with no side effect.
func readEnvelope(body io.Reader) ([]regEvent, error) {
	b, err := io.ReadAll(io.LimitReader(body, webhookMaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the notification envelope: %v", err)
	}
	if len(b) > webhookMaxBody {
		return nil, fmt.Errorf("the notification envelope is larger than 1 MiB")
	}
	var env regEnvelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("the body is not a registry notification envelope {\"events\": [...]}: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("the body must hold one notification envelope and nothing after it")
	}
	if env.Events == nil {
		return nil, fmt.Errorf("the notification envelope has no \"events\" list")
	}
	for i, ev := range *env.Events {
		if ev.Action == "" {
			return nil, fmt.Errorf("events[%d] has no action", i)
		}
		if ev.Action != "push" && ev.Action != "delete" && !ev.manifestPull() {
			continue
		}
		if ev.Target.Repository == "" {
			return nil, fmt.Errorf("events[%d] (%s) has no target.repository", i, ev.Action)
		}
		if ev.Target.Digest != "" {
			if err := store.ValidateDigest(ev.Target.Digest); err != nil {
				return nil, fmt.Errorf("events[%d]: target.digest: %v", i, err)
			}
		}
		if ev.Action == "push" && manifestTypes[ev.Target.MediaType] && ev.Target.Tag != "" {
			if ev.Target.Digest == "" {
				return nil, fmt.Errorf("events[%d] pushes %s:%s without target.digest", i, ev.Target.Repository, ev.Target.Tag)
			}
			if err := store.ValidateTag(ev.Target.Tag); err != nil {
				return nil, fmt.Errorf("events[%d]: target.tag: %v", i, err)
			}
		}
	}
	return *env.Events, nil
}

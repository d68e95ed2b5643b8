package handlers

// The browser's tag actions: add a tag, promote, roll back, delete and
// toggle scheduled import. Each is a form POST (the CSRF middleware has
// checked its token) that goes through change.Service, which checks the
// role and writes the change with its audit record. On success a plain form is
// redirected back (303) with what happened in the URL; an htmx request gets
// the updated fragment. A refused action re-renders the page (or fragment)
// with the reason next to its control and a 4xx status.
//
// A namespace the user cannot see answers 404, like its pages; a user who
// sees it but lacks the editor role gets 403 and nothing changes.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"layerwise/change"
	"layerwise/jobs/registry"
	"layerwise/store"
	"layerwise/views"
)

// errStale is a promotion whose source moved since the page was loaded.
var errStale = errors.New("stale")

// formError is a refusal of this file's own, with a message to show as is.
type formError struct {
	kind error // store.ErrInvalid or errStale
	msg  string
}

func (e formError) Error() string   { return e.msg }
func (e formError) Is(t error) bool { return t == e.kind }

func formInvalid(format string, a ...any) error {
	return formError{store.ErrInvalid, fmt.Sprintf(format, a...)}
}

// formBack is the page an action returns to: the stream page, or the page
// of one of its tags.
type formBack struct {
	ns, stream, tag string
}

func formBackOf(c echo.Context, ns, stream string) formBack {
	b := formBack{ns: ns, stream: stream}
	if t := strings.TrimSpace(c.FormValue("back")); t != "" && store.ValidateTag(t) == nil {
		b.tag = t
	}
	return b
}

// formDone is what an action did, carried in the redirect's query so the
// page can say so once (no flash cookie).
type formDone struct {
	code  string // tagged, promoted, rolledback, deleted, scheduled, unscheduled, pinned, unpinned; "same…" and unchanged: nothing changed
	tag   string // the tag that changed
	from  string // promoted: the source tag
	image string // the digest now current
	via   string // the control used: add, promote, rollback, import, scheduled, delete, pin, unpin
}

// formControls are the controls a notice can be shown next to.
var formControls = map[string]bool{"add": true, "promote": true, "rollback": true, "import": true,
	"scheduled": true, "delete": true, "pin": true, "unpin": true}

func (d formDone) query() string {
	v := url.Values{"done": {d.code}, "tag": {d.tag}}
	if d.from != "" {
		v.Set("from", d.from)
	}
	if d.image != "" {
		v.Set("image", d.image)
	}
	if d.via != "" {
		v.Set("via", d.via)
	}
	return v.Encode()
}

// anchor is where on the page the result is shown: the plain form's
// redirect lands there, next to the control that was used.
func (d formDone) anchor(tagPage bool) string {
	switch {
	case !tagPage && d.via == "add":
		return "#add-tag"
	case !tagPage && d.code != "deleted":
		return "#tag-" + d.tag
	case !tagPage:
		return ""
	}
	switch d.via {
	case "add":
		return "#add-tag"
	case "rollback":
		return "#history"
	case "pin", "unpin":
		return "#pins"
	case "promote", "import", "scheduled":
		return "#tag-actions"
	}
	return ""
}

// formDoneFrom reads the redirect's query; anything malformed is dropped.
func formDoneFrom(c echo.Context) formDone {
	d := formDone{code: c.QueryParam("done"), tag: c.QueryParam("tag"), from: c.QueryParam("from"), image: c.QueryParam("image"),
		via: c.QueryParam("via")}
	if store.ValidateTag(d.tag) != nil {
		return formDone{}
	}
	if !formControls[d.via] {
		d.via = ""
	}
	if d.from != "" && store.ValidateTag(d.from) != nil {
		d.from = ""
	}
	if d.image != "" && store.ValidateDigest(d.image) != nil {
		d.image = ""
	}
	return d
}

// show puts what the action did on the page's actions: the notice, next
// to the control used, and what to highlight.
func (d formDone) show(a *views.Actions) {
	a.Done, a.DoneTag, a.DoneVia, a.DoneImage = d.message(), d.tag, d.via, d.image
	a.DoneSame = d.code == "unchanged" || d.code == "reimported" || strings.HasPrefix(d.code, "same")
}

// message says what happened, in a sentence; "" for an unknown code.
func (d formDone) message() string {
	img := views.ShortDigest(d.image)
	switch d.code {
	case "tagged":
		if d.image == "" {
			return fmt.Sprintf("Tagged %s; its image arrives with the next import.", d.tag)
		}
		return fmt.Sprintf("Tagged %s: it now points to %s.", d.tag, img)
	case "promoted":
		if d.image == "" {
			return fmt.Sprintf("Promoted %s → %s.", d.from, d.tag)
		}
		return fmt.Sprintf("Promoted %s → %s: %s is now current in %s.", d.from, d.tag, img, d.tag)
	case "rolledback":
		return fmt.Sprintf("Rolled back %s: %s is current again, and the tag's spec names it.", d.tag, img)
	case "rolledbackkept":
		return fmt.Sprintf("Rolled back %s: %s is current again. The tag keeps its source (it tracks another tag or is imported on a schedule), so the next change there makes a newer image current.", d.tag, img)
	case "imported":
		return fmt.Sprintf("Imported %s: the registry had a new image, %s is now current.", d.tag, img)
	case "reimported":
		return fmt.Sprintf("Imported %s: the registry still has %s; nothing changed.", d.tag, img)
	case "deleted":
		return fmt.Sprintf("Deleted tag %s and its history; its images stay until the next prune.", d.tag)
	case "scheduled":
		return fmt.Sprintf("Scheduled import is on for %s.", d.tag)
	case "unscheduled":
		return fmt.Sprintf("Scheduled import is off for %s.", d.tag)
	case "pinned":
		return fmt.Sprintf("Pinned %s: prune never removes it.", img)
	case "unpinned":
		return fmt.Sprintf("Unpinned %s: prune treats it like any other image again.", img)
	case "unchanged":
		if d.image == "" {
			return fmt.Sprintf("%s already pointed there; nothing changed.", d.tag)
		}
		return fmt.Sprintf("%s already pointed to %s; nothing changed.", d.tag, img)
	case "samescheduled":
		return fmt.Sprintf("Scheduled import was already on for %s; nothing changed.", d.tag)
	case "sameunscheduled":
		return fmt.Sprintf("Scheduled import was already off for %s; nothing changed.", d.tag)
	case "samepin":
		return fmt.Sprintf("%s was already pinned with that note; nothing changed.", img)
	}
	return ""
}

// formDoneOf is what a tag change did: code, or "unchanged" (for an
// import "reimported") when it changed nothing and wrote no audit event.
func formDoneOf(via, code string, res store.TagResult, from string) formDone {
	d := formDone{code: code, tag: res.Tag.Tag, from: from, image: res.Image, via: via}
	switch {
	case !res.NoOp():
	case code == "imported":
		d.code = "reimported"
	default:
		d.code = "unchanged"
	}
	return d
}

// formStatus maps an action's error to a status and the message shown.
// The store's and the Service's messages are shown as they are: they name the
// thing and say what to do, in oc's words where oc has them.
func formStatus(c echo.Context, err error) (int, string) {
	switch {
	case errors.Is(err, change.ErrForbidden):
		return http.StatusForbidden, forbiddenText(principal(c), err)
	case errors.Is(err, errStale):
		return http.StatusConflict, err.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, strings.TrimSuffix(err.Error(), ": "+store.ErrNotFound.Error())
	case errors.Is(err, store.ErrInvalid):
		// Some errors wrap the sentinel at the end ("…: invalid").
		return http.StatusBadRequest, strings.TrimSuffix(err.Error(), ": "+store.ErrInvalid.Error())
	case errors.Is(err, store.ErrExists):
		return http.StatusConflict, err.Error()
	case errors.Is(err, registry.ErrWriteThrough):
		return http.StatusBadGateway, err.Error()
	}
	return http.StatusInternalServerError, "Something went wrong on our side and nothing was changed; the error is in the server log."
}

// forbiddenText turns the Service's refusal into a sentence addressed to the user.
func forbiddenText(p *store.Principal, err error) string {
	if p == nil {
		return "Nobody is logged in: changes need an account and a role in the namespace (create one with `layerwise user add`, then log in)."
	}
	msg := strings.TrimPrefix(err.Error(), change.ErrForbidden.Error()+": ")
	if rest, ok := strings.CutPrefix(msg, p.User+" needs "); ok {
		msg = "You need " + rest
	}
	return upperFirst(msg) + "."
}

func upperFirst(s string) string {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// formNeed is the Service's role check, done before an action reads its
// fields so that a refused user learns only that they are refused.
func formNeed(c echo.Context, ns string, role store.Role) error {
	return change.Need(principal(c), ns, role)
}

// formTagRef reads ns and stream:tag of "/ns/:ns/istag/:nametag/…".
func formTagRef(c echo.Context) (store.TagRef, bool) {
	name, tag, ok := strings.Cut(c.Param("nametag"), ":")
	ref := store.TagRef{Namespace: c.Param("ns"), Stream: name, Tag: tag}
	return ref, ok && ref.Validate() == nil
}

// formOK answers a successful action.
func (h *Handler) formOK(c echo.Context, b formBack, d formDone) error {
	c.Response().Header().Add("Vary", "HX-Request")
	gone := d.code == "deleted" && d.tag == b.tag
	if gone {
		b.tag = "" // the tag's page is gone: back to the stream
	}
	if isHTMX(c) {
		if gone {
			c.Response().Header().Set("HX-Redirect", views.StreamHref(b.ns, b.stream)+"?"+d.query())
			return c.NoContent(http.StatusOK)
		}
		return h.formAnswer(c, b, http.StatusOK, d, nil, views.AddTagForm{})
	}
	to := views.StreamHref(b.ns, b.stream)
	if b.tag != "" {
		to = views.TagHref(b.ns, b.stream, b.tag)
	}
	to += "?" + d.query() + d.anchor(b.tag != "")
	return c.Redirect(http.StatusSeeOther, to)
}

// formFailed answers a refused or failed action: the page with the reason
// next to the control.
func (h *Handler) formFailed(c echo.Context, b formBack, ae views.ActionError, err error, add views.AddTagForm) error {
	status, msg := formStatus(c, err)
	if status == http.StatusInternalServerError {
		if errors.Is(err, context.Canceled) {
			return err
		}
		h.Log.Error("action failed", "path", c.Request().URL.Path, "err", err)
	}
	ae.Message = msg
	c.Response().Header().Add("Vary", "HX-Request")
	return h.formAnswer(c, b, status, formDone{}, &ae, add)
}

// formAnswer renders the page an action returns to (the fragment for htmx).
func (h *Handler) formAnswer(c echo.Context, b formBack, status int, d formDone, ae *views.ActionError, add views.AddTagForm) error {
	if b.tag != "" {
		m, found, err := h.tagPage(c, b.ns, b.stream, b.tag)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return h.fail(c, "image stream tag "+b.ns+"/"+b.stream+":"+b.tag, err)
		}
		if found {
			m.Actions.Done, m.Actions.Error = d.message(), ae
			d.show(&m.Actions)
			if add != (views.AddTagForm{}) {
				m.Actions.Add = add
			}
			if isHTMX(c) {
				return render(c, status, views.TagBody(m))
			}
			return render(c, status, views.ViewTag(m))
		}
		if isHTMX(c) {
			// The tag went away under the page: show the stream instead.
			c.Response().Header().Set("HX-Redirect", views.StreamHref(b.ns, b.stream))
			return c.NoContent(http.StatusOK)
		}
	}
	m, err := h.streamPage(c, b.ns, b.stream)
	if err != nil {
		return h.failWith(c, "image stream "+b.ns+"/"+b.stream, err, b.stream)
	}
	m.Actions.Done, m.Actions.Error, m.Actions.Add = d.message(), ae, add
	d.show(&m.Actions)
	if isHTMX(c) {
		return render(c, status, views.StreamTags(m))
	}
	return render(c, status, views.ViewStream(m))
}

// formSource reads the "Add a tag" source. Besides oc's forms it takes a
// tag of this stream alone ("latest", ":latest") and an image of this
// stream alone ("@sha256:…", "sha256:…").
func formSource(s, ns, stream string) (store.Source, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return store.Source{}, formInvalid("name the source: a tag of this stream (latest), stream:tag, ns/stream:tag, stream@sha256:… or a registry image")
	case strings.HasPrefix(s, ":"), strings.HasPrefix(s, "@"):
		s = stream + s
	case strings.HasPrefix(s, "sha256:") && !strings.Contains(s, "/"):
		s = stream + "@" + s
	case !strings.ContainsAny(s, ":@/"):
		s = stream + ":" + s
	}
	return store.ParseSource(s, ns, "")
}

func formChecked(c echo.Context, name string) bool {
	switch c.FormValue(name) {
	case "on", "true", "1", "yes":
		return true
	}
	return false
}

// AddTag is POST /ns/{ns}/is/{name}/tags: `oc tag SOURCE name:TAG`.
func (h *Handler) AddTag(c echo.Context) error {
	ns, stream := c.Param("ns"), c.Param("name")
	if (store.StreamRef{Namespace: ns, Stream: stream}).Validate() != nil || !canSee(c, ns) {
		return h.notFound(c, "image stream "+ns+"/"+stream, stream)
	}
	b := formBackOf(c, ns, stream)
	f := views.AddTagForm{Source: strings.TrimSpace(c.FormValue("source")), Tag: strings.TrimSpace(c.FormValue("tag")),
		Alias: formChecked(c, "alias"), Scheduled: formChecked(c, "scheduled")}
	ae := views.ActionError{Control: "add"}
	if err := formNeed(c, ns, store.RoleEditor); err != nil {
		return h.formFailed(c, b, ae, err, f)
	}
	src, err := formSource(f.Source, ns, stream)
	if err != nil {
		return h.formFailed(c, b, ae, err, f)
	}
	if f.Tag == "" {
		return h.formFailed(c, b, ae, formInvalid("name the new tag, e.g. v1.2.0"), f)
	}
	dst := store.TagRef{Namespace: ns, Stream: stream, Tag: f.Tag}
	if c.FormValue("import") == "now" {
		// "Add and import now": a registry image is imported at once, as
		// the API's import does; the tag is created only when the registry
		// delivers. ("Add tag" records the source; the image then arrives
		// with the next scheduled or manual import.)
		switch {
		case src.Kind != store.KindDockerImage:
			return h.formFailed(c, b, ae, formInvalid("only an image from a registry (host/repository:tag) can be imported; %s is an image stream source: use Add tag", src), f)
		case f.Alias:
			return h.formFailed(c, b, ae, formInvalid("an imported tag cannot be an alias"), f)
		case h.Importer == nil:
			return h.formFailedStatus(c, b, ae, formInvalid("importing from registries is not configured in this server"), f, http.StatusNotImplemented)
		}
		res, err := h.Change.Import(c.Request().Context(), principal(c), h.Importer, dst, src.Ref,
			registry.ImportOptions{Scheduled: f.Scheduled, Confirm: true})
		if err != nil {
			return h.formImportFailed(c, b, ae, err, f)
		}
		return h.formOK(c, b, formDoneOf("add", "tagged", res, ""))
	}
	res, err := h.Change.SetTag(c.Request().Context(), principal(c), src, dst, store.TagOptions{Alias: f.Alias, Scheduled: f.Scheduled})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The source named in the form is missing: the request is
			// wrong, the page is there.
			if src.Kind == store.KindImageStreamTag && !strings.Contains(f.Source, "/") && strings.Index(f.Source, ":") > 0 {
				err = formInvalid("%s; for an image from a registry write its host too, e.g. docker.io/library/%s", err, f.Source)
			}
			return h.formFailedStatus(c, b, ae, err, f, http.StatusBadRequest)
		}
		return h.formFailed(c, b, ae, err, f)
	}
	return h.formOK(c, b, formDoneOf("add", "tagged", res, ""))
}

// formFailedStatus is formFailed with a fixed status.
func (h *Handler) formFailedStatus(c echo.Context, b formBack, ae views.ActionError, err error, add views.AddTagForm, status int) error {
	_, msg := formStatus(c, err)
	ae.Message = msg
	c.Response().Header().Add("Vary", "HX-Request")
	return h.formAnswer(c, b, status, formDone{}, &ae, add)
}

// PromoteTag is POST /ns/{ns}/istag/{name}:{tag}/promote: copy the tag's
// image to the next rung of the ladder (or to the form's "to", the rung
// the button named). A "digest" field is the image the button showed: if
// the tag has moved since, nothing is promoted (409).
func (h *Handler) PromoteTag(c echo.Context) error {
	ref, b, ae, ok, err := h.tagForm(c, "promote", "")
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	to := strings.TrimSpace(c.FormValue("to"))
	if to != "" {
		if err := store.ValidateTag(to); err != nil {
			return h.formFailed(c, b, ae, err, views.AddTagForm{})
		}
	}
	if want := strings.TrimSpace(c.FormValue("digest")); want != "" {
		if have := h.currentDigest(ctx, ref); have != "" && have != want {
			err := formError{errStale, fmt.Sprintf("%s has moved to %s since this page was loaded (the button showed %s); check the new image, then promote again",
				ref.Tag, views.ShortDigest(have), views.ShortDigest(want))}
			return h.formFailed(c, b, ae, err, views.AddTagForm{})
		}
	}
	if !confirmed(c) {
		dstTag := to
		if dstTag == "" {
			dstTag, _ = store.NextRung(h.ladder(c, ref.Namespace), ref.Tag)
		}
		image := h.currentDigest(ctx, ref)
		dst := store.TagRef{Namespace: ref.Namespace, Stream: ref.Stream, Tag: dstTag}
		// The last rung asks first, unless the promotion would change nothing.
		if dstTag != "" && lastRung(h.ladder(c, ref.Namespace), dstTag) && image != "" && image != h.currentDigest(ctx, dst) {
			return h.confirmPromote(c, b, ref, dstTag, image)
		}
	}
	res, err := h.Change.Promote(ctx, principal(c), store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream}, ref.Tag, to)
	if err != nil {
		return h.formFailed(c, b, ae, err, views.AddTagForm{})
	}
	return h.formOK(c, b, formDoneOf("promote", "promoted", res, ref.Tag))
}

// currentDigest is the image a tag points to now ("" when none or unknown).
func (h *Handler) currentDigest(ctx context.Context, ref store.TagRef) string {
	st, err := h.Store.GetStream(ctx, store.StreamRef{Namespace: ref.Namespace, Stream: ref.Stream})
	if err != nil {
		return ""
	}
	for _, t := range st.Tags {
		if t.Name == ref.Tag && len(t.Items) > 0 {
			return t.Items[0].Image
		}
	}
	return ""
}

// tagForm starts every tag action form: the tag from the URL (404 for one
// the user cannot see), where to go back to, the error context (with the
// digest field's value, when the form has one) and the editor check. When
// ok is false the answer has been written and err is what to return.
func (h *Handler) tagForm(c echo.Context, control, digestField string) (ref store.TagRef, b formBack, ae views.ActionError, ok bool, err error) {
	ref, ok = formTagRef(c)
	if !ok || !canSee(c, ref.Namespace) {
		return ref, b, ae, false, h.notFound(c, "image stream tag "+c.Param("ns")+"/"+c.Param("nametag"))
	}
	b = formBackOf(c, ref.Namespace, ref.Stream)
	ae = views.ActionError{Control: control, Tag: ref.Tag}
	if digestField != "" {
		ae.Digest = strings.TrimSpace(c.FormValue(digestField))
	}
	if err := formNeed(c, ref.Namespace, store.RoleEditor); err != nil {
		return ref, b, ae, false, h.formFailed(c, b, ae, err, views.AddTagForm{})
	}
	return ref, b, ae, true, nil
}

// RollbackTag is POST /ns/{ns}/istag/{name}:{tag}/rollback: make an image
// of the tag's history current again.
func (h *Handler) RollbackTag(c echo.Context) error {
	ref, b, ae, ok, err := h.tagForm(c, "rollback", "digest")
	if !ok {
		return err
	}
	digest := ae.Digest
	if digest == "" {
		return h.formFailed(c, b, ae, formInvalid("choose the history entry to make current"), views.AddTagForm{})
	}
	if !confirmed(c) {
		// Ask first when the entry is there and not current; anything else
		// is refused by the rollback itself, with its reason.
		if tag := h.tagOf(c, ref); tag != nil && len(tag.Items) > 0 && tag.Items[0].Image != digest && h.since(tag.Items, digest) != "" {
			return h.confirmRollback(c, b, ref, tag, digest)
		}
	}
	res, err := h.Change.Rollback(c.Request().Context(), principal(c), ref, digest)
	if err != nil {
		return h.formFailed(c, b, ae, err, views.AddTagForm{})
	}
	done := formDoneOf("rollback", "rolledback", res, "")
	if done.code == "rolledback" && res.KeptSource != "" {
		done.code = "rolledbackkept"
	}
	return h.formOK(c, b, done)
}

// DeleteTagForm is POST /ns/{ns}/istag/{name}:{tag}/delete. The form's
// "confirm" field must repeat the tag's name.
func (h *Handler) DeleteTagForm(c echo.Context) error {
	ref, b, ae, ok, err := h.tagForm(c, "delete", "")
	if !ok {
		return err
	}
	if got := strings.TrimSpace(c.FormValue("confirm")); got != ref.Tag {
		msg := fmt.Sprintf("type the tag's name, %s, to confirm that it should be deleted", ref.Tag)
		if got != "" {
			msg = fmt.Sprintf("“%s” is not the tag's name; type %s to confirm that it should be deleted", got, ref.Tag)
		}
		return h.formFailed(c, b, ae, formInvalid("%s", msg), views.AddTagForm{})
	}
	if err := h.Change.DeleteTag(c.Request().Context(), principal(c), ref); err != nil {
		return h.formFailed(c, b, ae, err, views.AddTagForm{})
	}
	return h.formOK(c, b, formDone{code: "deleted", tag: ref.Tag, via: "delete"})
}

// ScheduleTag is POST /ns/{ns}/istag/{name}:{tag}/scheduled with
// scheduled=on or off.
func (h *Handler) ScheduleTag(c echo.Context) error {
	ref, b, ae, ok, err := h.tagForm(c, "scheduled", "")
	if !ok {
		return err
	}
	var on bool
	switch c.FormValue("scheduled") {
	case "on":
		on = true
	case "off":
	default:
		return h.formFailed(c, b, ae, formInvalid("say whether scheduled import should be on or off"), views.AddTagForm{})
	}
	changed, err := h.Change.SetScheduled(c.Request().Context(), principal(c), ref, on)
	if err != nil {
		return h.formFailed(c, b, ae, err, views.AddTagForm{})
	}
	code := "unscheduled"
	if on {
		code = "scheduled"
	}
	if !changed {
		code = "same" + code
	}
	return h.formOK(c, b, formDone{code: code, tag: ref.Tag, via: "scheduled"})
}

// formActions are the actions of a stream or tag page for the user, with
// each tag's next rung of the promotion ladder.
func (h *Handler) formActions(c echo.Context, ns string, tags ...*views.TagView) views.Actions {
	a := views.Actions{CanEdit: principal(c).Can(ns, store.RoleEditor), CanImport: h.Importer != nil}
	if !a.CanEdit {
		return a
	}
	ladder := h.ladder(c, ns)
	for _, t := range tags {
		if t.Current == nil || t.Current.Image == "" {
			continue
		}
		if next, ok := store.NextRung(ladder, t.Name); ok {
			t.PromoteTo = next
			t.PromoteConfirm = lastRung(ladder, next)
		}
	}
	return a
}

// ladder is a namespace's promotion ladder (nil when it cannot be read:
// logged, and the page shows no promote buttons).
func (h *Handler) ladder(c echo.Context, ns string) []string {
	ctx := c.Request().Context()
	ladder, err := cached(ctx, h, "ladder\x00"+ns, func() ([]string, error) { return h.Store.Ladder(ctx, ns) })
	if err != nil {
		h.Log.Warn("cannot read the promotion ladder", "namespace", ns, "err", err)
		return nil
	}
	return ladder
}

// lastRung says whether tag is the top of the ladder: promoting there
// asks to confirm.
func lastRung(ladder []string, tag string) bool {
	return len(ladder) > 0 && ladder[len(ladder)-1] == tag
}

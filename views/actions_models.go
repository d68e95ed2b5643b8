package views

import (
	"regexp"
	"time"
)

// Actions are the forms a stream or tag page offers: shown only when
// CanEdit (an editor in the namespace); viewers and installs without
// accounts get the page read-only.
type Actions struct {
	CanEdit bool
	// CanImport: the server reads registries ("Import now" buttons).
	CanImport bool
	// Done says what the last action did ("Promoted latest → test: …"),
	// shown once at the top of the tags; DoneTag is the tag it concerned.
	Done    string
	DoneTag string
	// DoneVia is the control it came from (add, promote, rollback, import,
	// scheduled, delete, pin, unpin): the notice is shown there.
	// DoneImage is the image it concerned (a new pin, a new current image).
	DoneVia, DoneImage string
	// DoneSame: the action changed nothing (nothing is highlighted).
	DoneSame bool
	// Error is a refused or failed action, shown next to its control.
	Error *ActionError
	Add   AddTagForm // what was typed into "Add a tag", kept after an error
}

// ActionError is an action that did not happen, and why.
type ActionError struct {
	Control string // add, promote, rollback, delete, scheduled, import
	Tag     string // the tag whose control failed ("" for the add form)
	Digest  string // rollback: the history entry whose button was used
	Message string // in words a person can act on
}

// For says whether the error belongs next to a tag's control.
func (e *ActionError) For(control, tag string) bool {
	return e != nil && e.Control == control && e.Tag == tag
}

// ForEntry says whether the error belongs next to a history entry's
// "Make current" button.
func (e *ActionError) ForEntry(tag, digest string) bool {
	return e.For("rollback", tag) && e.Digest == digest
}

// AddTagForm is the "Add a tag" form's fields.
type AddTagForm struct {
	Source    string // stream:tag, ns/stream:tag, stream@sha256:… or a pull spec
	Tag       string // the new tag's name in this stream
	Alias     bool   // track the source (same stream only)
	Scheduled bool   // re-import an external image periodically
}

// SettingsPage is "/ns/{ns}/settings" (namespace admins).
type SettingsPage struct {
	Page
	Namespace        string
	Contacts         string // comma-separated, as typed or stored
	Threshold        string // "50GiB"; "" or "default" for the global default
	ThresholdBytes   int64  // the namespace's own threshold as stored (0: the default)
	DefaultThreshold int64  // the global threshold, for the hint
	Ladder           string // comma-separated
	DefaultLadder    string
	// The namespace's prune policy, as typed or stored ("" = the global one).
	KeepTagRevisions, KeepYoungerThan               string
	DefaultKeepTagRevisions, DefaultKeepYoungerThan string
	Error                                           string
	ErrorField                                      string // contacts, threshold, ladder, keep, younger
	Saved                                           bool
	Unchanged                                       bool // saved, and nothing changed
	// Rules are the namespace's retention rules, one per line, as typed or
	// stored; RulesError why they were refused.
	Rules           string
	RulesError      string
	RulesErrorField string // "rules" when refused
	RulesSaved      bool
	RulesUnchanged  bool // saved, and the rules were already these
}

// MembersPage is "/ns/{ns}/members" (namespace admins).
type MembersPage struct {
	Page
	Namespace string
	Members   []Member
	Roles     []string // the roles one can grant
	AddUser   string   // as typed
	AddRole   string
	Error     string
	ErrorUser string // the member row whose control failed; "" for the add form
	Done      string
}

// Member is one role binding.
type Member struct {
	User string
	Role string
	Self bool // the logged-in user
}

// AuditPage is "/audit".
type AuditPage struct {
	Page
	Namespace, Actor, Action string   // the filters as given
	Namespaces               []string // the namespaces the user may filter by
	Actions                  []string // the known action names
	Events                   []AuditRow
	Limit                    int // at most this many are listed
}

// AuditRow is one audit event.
type AuditRow struct {
	At                       time.Time
	Actor                    string
	Namespace, NamespaceHref string // Href "" when the event has no namespace
	Action                   string
	Target, TargetHref       string // Href "" when the target has no page
	Before, After            string
}

// TokensPage is "/tokens": the user's API tokens.
type TokensPage struct {
	Page
	Tokens  []TokenRow
	Name    string // the create form's fields as typed
	Expires string
	Error   string // the create form's error
	// RevokeError says why a revoke failed.
	RevokeError string
	Done        string
	// NewToken is set once, on the page that answers the create form.
	NewToken     string
	NewTokenName string
}

// TokenRow is an API token, never its secret.
type TokenRow struct {
	ID      int64
	Name    string
	Created time.Time
	Expires *time.Time
	Revoked *time.Time
	Expired bool
}

// errorPlaced says whether one of the page's controls shows e. When none
// does (a viewer has no controls, a tag on the last rung has no promote
// button, the tag is gone, the stream page has no such control) the page
// shows the error above the tags. The stream page's controls are "Add a
// tag" and each tag's promotion; the rest are on the tag's page.
func errorPlaced(e *ActionError, on, streamPage bool, tags []TagView) bool {
	if e == nil {
		return true
	}
	if !on {
		return false
	}
	if e.Control == "add" {
		return true
	}
	for _, t := range tags {
		if t.Name != e.Tag {
			continue
		}
		if streamPage && e.Control != "promote" {
			return false
		}
		switch e.Control {
		case "promote":
			return t.PromoteTo != ""
		case "scheduled", "delete":
			return true
		case "import":
			return t.External
		case "pin":
			return hasImages(t)
		case "rollback":
			for _, r := range t.History {
				if r.Image == e.Digest && canRollBack(t, r) {
					return true
				}
			}
		}
		return false
	}
	return false
}

// textPart is a piece of free text: a digest or the text between digests.
type textPart struct {
	Text   string
	Digest bool
}

var digestInText = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// digestParts splits text around its sha256 digests.
func digestParts(s string) []textPart {
	var out []textPart
	last := 0
	for _, loc := range digestInText.FindAllStringIndex(s, -1) {
		if loc[0] > last {
			out = append(out, textPart{Text: s[last:loc[0]]})
		}
		out = append(out, textPart{Text: s[loc[0]:loc[1]], Digest: true})
		last = loc[1]
	}
	if last < len(s) {
		out = append(out, textPart{Text: s[last:]})
	}
	return out
}

// hasTag says whether tags has one named name.
func hasTag(tags []TagView, name string) bool {
	for _, t := range tags {
		if t.Name == name {
			return true
		}
	}
	return false
}

// tagColumns is the column count of the stream page's tags table.
func tagColumns(ac actionCtx) string {
	if ac.On {
		return "7"
	}
	return "6"
}

// historyRowClass marks the current entry, and the entry the last action
// put on top (a rollback, an import), highlighted.
func historyRowClass(ac actionCtx, r Revision) string {
	c := ""
	if r.Current {
		c = "current"
		if ac.changed() && (ac.Via == "rollback" || ac.Via == "import") && ac.DoneImage != "" && r.Image == ac.DoneImage {
			c += " changed"
		}
	}
	return c
}

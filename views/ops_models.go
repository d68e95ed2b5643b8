package views

import (
	"net/url"
	"time"

	"layerwise/store"
)

// RunControl is the button that runs a scheduled job now.
type RunControl struct {
	Href  string // the form's POST target, or with Confirm the page to confirm on
	Label string // "Run now", "Send this week's reports", "Prune now…"
	// Confirm: a link to a page that shows what the run does first.
	Confirm bool
	CSRF    string
}

// RunFlash is how a run started by hand went.
type RunFlash struct {
	Job string
	// Outcome is "done", "running" (still going when the page was made)
	// or "skipped" (it was running already, here or on another replica).
	Outcome string
	Run     *store.JobRun // the job's newest run, when done
}

// DueReport is a namespace at or over its threshold: it gets this week's e-mail.
type DueReport struct {
	Namespace string
	Bytes     int64
	Threshold int64
	Contacts  int
}

// ReportHref is the browser preview of a namespace's weekly e-mail.
func ReportHref(ns string) string { return NamespaceHref(ns) + "/report" }

// JobRunHref runs a job now (POST).
func JobRunHref(job string) string { return "/jobs/" + url.PathEscape(job) + "/run" }

// PruneConfirmHref shows the plan before a prune run by hand.
const PruneConfirmHref = "/prune/confirm"

// PruneConfirmPage is "/prune/confirm": the plan, and the button that runs it.
type PruneConfirmPage struct {
	Page
	Plan *store.PrunePlan
	// Fingerprint names the plan shown; a run confirmed for another plan
	// (the data changed meanwhile) is shown the new one to confirm instead.
	Fingerprint string
	Changed     bool
}

// AccountsHref is the platform admins' accounts page.
const AccountsHref = "/accounts"

// AccountHref is an account's row on the accounts page.
func AccountHref(name string) string { return AccountsHref + "#user-" + name }

// AccountsPage is "/accounts": every account with its roles, for platform
// admins, with the forms that add one, reset a password, disable or
// enable.
type AccountsPage struct {
	Page
	Users []AccountRow
	// Done says what the last form did, next to its row (DoneUser).
	Done, DoneUser string
	// Error is a refused form's reason, next to it (ErrorUser "" is the add form).
	Error, ErrorUser string
	AddName          string
	AddAdmin         bool
}

// AccountRow is one account.
type AccountRow struct {
	Name        string
	Admin       bool
	HasPassword bool
	Disabled    bool
	Self        bool
	Created     time.Time
	Roles       []string // "ml: editor"
	Tokens      int
}

func accountRowID(name string) string { return "user-" + name }

func accountPasswordHref(name string) string {
	return AccountsHref + "/" + url.PathEscape(name) + "/password"
}

func accountStateHref(name string, disable bool) string {
	if disable {
		return AccountsHref + "/" + url.PathEscape(name) + "/disable"
	}
	return AccountsHref + "/" + url.PathEscape(name) + "/enable"
}

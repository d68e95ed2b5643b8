// Package settings lists the environment variables Layerwise reads: the
// one list that the command line checks every read against and that the
// deployment manifests are tested against (deploy/), so neither can name
// a variable that does nothing. Defaults and parsing stay with the flags
// that read them; README.md's configuration table explains each one.
package settings

import "slices"

// Setting is one environment variable.
type Setting struct {
	Name string
	// Secret settings hold credentials: deployments give them as a file
	// (the setting named Name+"_FILE") from a mounted Secret, never as a
	// literal value.
	Secret bool
}

// All is every setting, sorted by name.
func All() []Setting {
	return []Setting{
		{Name: "LAYERWISE_ADDR"},
		{Name: "LAYERWISE_ADMIN_EMAIL"},
		{Name: "LAYERWISE_ALERT_WEBHOOK_URL", Secret: true},
		{Name: "LAYERWISE_ALERT_WEBHOOK_URL_FILE"},
		{Name: "LAYERWISE_AUTH"},
		{Name: "LAYERWISE_BASE_URL"},
		{Name: "LAYERWISE_DB"},
		{Name: "LAYERWISE_IMPORT_ALLOW"},
		{Name: "LAYERWISE_IMPORT_SCHEDULE"},
		{Name: "LAYERWISE_KEEP_TAG_REVISIONS"},
		{Name: "LAYERWISE_KEEP_YOUNGER_THAN"},
		{Name: "LAYERWISE_MAIL_FROM"},
		{Name: "LAYERWISE_MAIL_REPLY_TO"},
		{Name: "LAYERWISE_MAX_BLOB_SIZE"},
		{Name: "LAYERWISE_METRICS_ADDR"},
		{Name: "LAYERWISE_METRICS_TOKEN", Secret: true},
		{Name: "LAYERWISE_METRICS_TOKEN_FILE"},
		{Name: "LAYERWISE_OIDC_CLIENT_ID"},
		{Name: "LAYERWISE_OIDC_CLIENT_SECRET_FILE"},
		{Name: "LAYERWISE_OIDC_ISSUER"},
		{Name: "LAYERWISE_OPENSHIFT_TOKEN_FILE"},
		{Name: "LAYERWISE_OPENSHIFT_URL"},
		{Name: "LAYERWISE_PLAN_SCHEDULE"},
		{Name: "LAYERWISE_PRUNE_SCHEDULE"},
		{Name: "LAYERWISE_REGISTRY_AUTH_FILE"},
		{Name: "LAYERWISE_REGISTRY_URL"},
		{Name: "LAYERWISE_REPORT_SCHEDULE"},
		{Name: "LAYERWISE_REPORT_THRESHOLD"},
		{Name: "LAYERWISE_SMTP_HOST"},
		{Name: "LAYERWISE_SMTP_PASSWORD", Secret: true},
		{Name: "LAYERWISE_SMTP_PASSWORD_FILE"},
		{Name: "LAYERWISE_SMTP_PORT"},
		{Name: "LAYERWISE_SMTP_TLS"},
		{Name: "LAYERWISE_SMTP_USER"},
		{Name: "LAYERWISE_SNAPSHOT_SCHEDULE"},
		{Name: "LAYERWISE_SYNC_SCHEDULE"},
		{Name: "LAYERWISE_TRUSTED_PROXIES"},
		{Name: "LAYERWISE_VERIFY_SCHEDULE"},
		{Name: "LAYERWISE_WEBHOOK_TOKEN", Secret: true},
		{Name: "LAYERWISE_WEBHOOK_TOKEN_FILE"},
	}
}

// Lookup finds a setting by name.
func Lookup(name string) (Setting, bool) {
	all := All()
	i, ok := slices.BinarySearchFunc(all, name, func(s Setting, n string) int {
		switch {
		case s.Name < n:
			return -1
		case s.Name > n:
			return 1
		}
		return 0
	})
	if !ok {
		return Setting{}, false
	}
	return all[i], true
}

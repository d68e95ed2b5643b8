package cli

import (
	"flag"

	"layerwise/jobs"
	"layerwise/web"
)

// importFlags adds serve's scheduled-import flags; the returned func puts
// them into the server's configuration. The demo's scheduled tags point at
// public registries: under --demo the job runs only when a schedule is set
// explicitly, so a demo never rewrites its own data or fails offline.
func (c *cli) importFlags(f *flags) func(cfg *web.Config, demo bool) error {
	schedule := f.String("import-schedule", c.env("LAYERWISE_IMPORT_SCHEDULE", "@every 15m"),
		`re-import scheduled tags (LAYERWISE_IMPORT_SCHEDULE); "off" runs no import job`)
	workers := f.Int("import-workers", 8, "how many scheduled tags the import job checks at once")
	allow := f.String("import-allow", c.env("LAYERWISE_IMPORT_ALLOW", ""),
		"non-public CIDRs and hosts (host or host:port) that imports may read from, comma-separated; loopback, link-local and private addresses are refused otherwise (LAYERWISE_IMPORT_ALLOW)")
	return func(cfg *web.Config, demo bool) error {
		if *workers < 1 {
			return usagef("--import-workers %d: want at least 1", *workers)
		}
		cfg.ImportSchedule = *schedule
		explicit := c.env("LAYERWISE_IMPORT_SCHEDULE", "") != ""
		f.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "import-schedule" })
		if cfg.ImportSchedule == "off" || demo && !explicit {
			cfg.ImportSchedule = ""
		}
		cfg.Import = jobs.ImportSettings{Workers: *workers}
		cfg.ImportAllow = *allow
		return nil
	}
}

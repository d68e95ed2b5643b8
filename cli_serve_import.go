package main

import (
	"layerwise/jobs"
	"layerwise/web"
)

// importFlags adds serve's scheduled-import flags; the returned func puts
// them into the server's configuration.
func (c *cli) importFlags(f *flags) func(*web.Config) error {
	schedule := f.String("import-schedule", c.env("LAYERWISE_IMPORT_SCHEDULE", "@every 15m"),
		`re-import scheduled tags (LAYERWISE_IMPORT_SCHEDULE); "off" runs no import job`)
	workers := f.Int("import-workers", 8, "how many scheduled tags the import job checks at once")
	return func(cfg *web.Config) error {
		if *workers < 1 {
			return usagef("--import-workers %d: want at least 1", *workers)
		}
		cfg.ImportSchedule = *schedule
		if cfg.ImportSchedule == "off" {
			cfg.ImportSchedule = ""
		}
		cfg.Import = jobs.ImportSettings{Workers: *workers}
		return nil
	}
}

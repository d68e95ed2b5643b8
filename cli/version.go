package cli

import (
	"context"
	"fmt"

	"layerwise/buildinfo"
)

// cmdVersion prints the build: version, commit, its date, Go version.
func (c *cli) cmdVersion(ctx context.Context, args []string) error {
	f := c.newFlags("version", true)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("version: unexpected argument %q", pos[0])
	}
	bi := buildinfo.Read()
	if f.json() {
		return c.printJSON(bi)
	}
	_, err = fmt.Fprint(c.stdout, bi)
	return err
}

// Command layerwise is the image stream dashboard and registry usage
// reporter. The commands live in package cli; docs/ARCHITECTURE.md shows
// how the packages fit together.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"layerwise/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

package jobs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// processName is host:pid, unique among live processes; lease holders end
// with it ("cli@host:pid").
func processName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// deadHere says whether a lease holder named a process of this host that no
// longer exists (a `prune --confirm` killed with -9): its lease can be taken
// over at once instead of after its TTL. Anything else — another host, a
// live or unknown process, a holder without a pid — counts as alive.
func deadHere(holder string) bool {
	at := strings.LastIndex(holder, "@")
	if at < 0 {
		return false
	}
	host, pidText, ok := strings.Cut(holder[at+1:], ":")
	me, _ := os.Hostname()
	if !ok || host != me {
		return false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

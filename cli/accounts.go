package cli

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"time"

	"layerwise/store"
)

// cmdUser is `user add NAME [--admin] [--password-stdin]`.
func (c *cli) cmdUser(ctx context.Context, args []string) error {
	f := c.newWriteFlags("user", false)
	admin := f.Bool("admin", false, "platform admin: every role everywhere, runs prune")
	fromStdin := f.Bool("password-stdin", false, "read the password from the first line of standard input")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "add" {
		return usagef("user: want `user add NAME [--admin] [--password-stdin]`")
	}
	if !*fromStdin {
		return usagef("user add: give the password on standard input with --password-stdin (never as an argument: it would land in shell history and process lists)")
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("user add: no password on standard input")
	}
	password := strings.TrimRight(line, "\r\n")
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	u, err := svc.CreateUser(ctx, p, pos[1], password, *admin)
	if err != nil {
		return err
	}
	kind := "user"
	if u.PlatformAdmin {
		kind = "platform admin"
	}
	fmt.Fprintf(c.stdout, "%s %s created\n", kind, u.Name)
	return nil
}

// cmdToken is `token create NAME --user USER [--expires D]`.
func (c *cli) cmdToken(ctx context.Context, args []string) error {
	f := c.newWriteFlags("token", false)
	user := f.String("user", "", "the user the token acts as")
	expires := f.String("expires", "", "lifetime, e.g. 720h; empty: no expiry")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "create" || *user == "" {
		return usagef("token: want `token create NAME --user USER [--expires 720h]`")
	}
	var ttl time.Duration
	if *expires != "" {
		if ttl, err = time.ParseDuration(*expires); err != nil || ttl <= 0 {
			return usagef("--expires %q: want a positive Go duration such as 720h", *expires)
		}
	}
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	token, t, err := svc.CreateToken(ctx, p, *user, pos[1], ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, token)
	exp := "never expires"
	if t.ExpiresAt != nil {
		exp = "expires " + t.ExpiresAt.Format(time.RFC3339)
	}
	fmt.Fprintf(c.stderr, "token %q for %s (%s): shown once, only its hash is stored\n", t.Name, *user, exp)
	return nil
}

// cmdRoleBinding is `rolebinding add NS USER viewer|editor|admin`.
func (c *cli) cmdRoleBinding(ctx context.Context, args []string) error {
	f := c.newWriteFlags("rolebinding", false)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 4 || pos[0] != "add" {
		return usagef("rolebinding: want `rolebinding add NS USER viewer|editor|admin`")
	}
	role, err := store.ParseRole(pos[3])
	if err != nil {
		return usagef("%v", err)
	}
	s, svc, p, err := f.openChange(ctx, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	changed, err := svc.SetRole(ctx, p, pos[1], pos[2], role)
	if err != nil {
		return err
	}
	if !changed {
		c.nothingChanged("%s was already %s in %s", pos[2], role, pos[1])
		return nil
	}
	fmt.Fprintf(c.stdout, "%s is %s in %s\n", pos[2], role, pos[1])
	return nil
}

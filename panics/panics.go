// Package panics turns a panic in a background goroutine into an error, so
// that one bad row or bug fails one run instead of taking the process down.
package panics

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// Error is a recovered panic with the stack where it happened.
type Error struct {
	Value any
	Stack []byte
}

// Error keeps the stack out of the message: messages go to /jobs and the
// audit of a run; the stack goes to the log.
func (e *Error) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Recover stores a panic of the calling goroutine in *err as an *Error.
// Use it as `defer panics.Recover(&err)`; a panic wins over an error the
// function was about to return.
func Recover(err *error) {
	if p := recover(); p != nil {
		*err = &Error{Value: p, Stack: debug.Stack()}
	}
}

// As returns the recovered panic inside err, if there is one.
func As(err error) (*Error, bool) {
	var pe *Error
	ok := errors.As(err, &pe)
	return pe, ok
}

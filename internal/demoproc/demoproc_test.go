package demoproc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutput checks what output keeps of a run too long to keep whole: the
// beginning and the last lines, with the number left out between them, and
// the count and first line of each level, over every line.
func TestOutput(t *testing.T) {
	o := newOutput()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Close()
		fmt.Fprintln(w, "Admin API token (generated): secret")
		fmt.Fprintln(w, `time=t level=INFO msg=listening addr=127.0.0.1:8080 store="sqlite:x.db"`)
		for i := range 5000 {
			level := "INFO"
			switch i % 1000 {
			case 7:
				level = "ERROR"
			case 8:
				level = "WARN"
			}
			fmt.Fprintf(w, "time=t level=%s msg=\"signed in\" n=%d\n", level, i)
		}
		fmt.Fprintln(w, "time=t level=INFO msg=stopped")
	}()
	o.read(r)

	if addr := <-o.addr; addr != "127.0.0.1:8080" {
		t.Errorf("address %q, want 127.0.0.1:8080", addr)
	}
	p := &Process{out: o}
	out := p.Output()
	if !strings.HasPrefix(out, "Admin API token (generated): secret\n") || !strings.Contains(out, "msg=listening") {
		t.Errorf("the beginning of the output is not kept:\n%.300s", out)
	}
	if !strings.HasSuffix(out, "n=4999\ntime=t level=INFO msg=stopped\n") {
		t.Errorf("the end of the output is not kept:\n%s", out[max(0, len(out)-300):])
	}
	if !strings.Contains(out, " lines not kept ...]\n") {
		t.Error("the output does not say that lines were left out")
	}
	if len(out) > headBytes+tailLines*100 {
		t.Errorf("the output kept %d bytes", len(out))
	}
	if n, first := p.Logged("ERROR"); n != 5 || !strings.HasSuffix(first, " n=7") {
		t.Errorf("Logged(ERROR) = %d, %q; want 5 lines, the first n=7", n, first)
	}
	if n, _ := p.Logged("WARN"); n != 5 {
		t.Errorf("Logged(WARN) = %d, want 5", n)
	}
	if n, _ := p.Logged("INFO"); n != 4992 {
		t.Errorf("Logged(INFO) = %d, want 4992", n)
	}
}

// TestOutputShort checks that a short run's output is kept whole.
func TestOutputShort(t *testing.T) {
	o := newOutput()
	const text = "one\ntime=t level=INFO msg=listening addr=127.0.0.1:1\nthree\n"
	o.read(strings.NewReader(text))
	if got := o.String(); got != text {
		t.Errorf("output %q, want %q", got, text)
	}
}

func TestModuleRoot(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Dir(filepath.Dir(wd)); root != want {
		t.Errorf("moduleRoot() = %s, want %s", root, want)
	}
	if _, err := os.Stat(filepath.Join(root, "examples", "server")); err != nil {
		t.Error(err)
	}
}

func TestDeclares(t *testing.T) {
	for _, tc := range []struct {
		gomod string
		want  bool
	}{
		{"module github.com/revokehq/revoke\n\ngo 1.26.0\n", true},
		{"// the library\nmodule \"github.com/revokehq/revoke\"\n", true},
		{"module github.com/revokehq/revoke/e2e\n\nreplace github.com/revokehq/revoke => ../\n", false},
		{"go 1.26.0\n", false},
	} {
		if got := declares([]byte(tc.gomod), modulePath); got != tc.want {
			t.Errorf("declares(%q) = %v, want %v", tc.gomod, got, tc.want)
		}
	}
}

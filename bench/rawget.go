package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// rawGet sends one prepared GET request again and again over one
// keep-alive HTTP/1.1 connection, reading each answer's status and body
// and nothing more. It is the load generator's client: net/http's client
// spends tens of microseconds of CPU a request on headers, pools and
// goroutines, which on a machine whose cores the servers share is taken
// from the servers being measured.
type rawGet struct {
	addr string
	req  []byte
	conn net.Conn
	r    *bufio.Reader
}

// newRawGet prepares GET path on base (http://host:port) with headers.
func newRawGet(base, path string, headers http.Header) (*rawGet, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("load generator: %q is not an http:// base", base)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, u.Host)
	if err := headers.Write(&b); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return &rawGet{addr: u.Host, req: b.Bytes()}, nil
}

// do sends the request and returns the answer's status code, connecting
// first when there is no connection; after an error the connection is
// dropped, and the next call opens another.
func (g *rawGet) do() (int, error) {
	if g.conn == nil {
		c, err := net.DialTimeout("tcp", g.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		g.conn, g.r = c, bufio.NewReaderSize(c, 16<<10)
	}
	status, err := g.roundTrip()
	if err != nil {
		g.close()
	}
	return status, err
}

func (g *rawGet) roundTrip() (int, error) {
	if _, err := g.conn.Write(g.req); err != nil {
		return 0, err
	}
	line, err := g.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.1 ")) {
		return 0, errors.New("load generator: not an HTTP/1.1 status line")
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("load generator: status: %w", err)
	}
	length, closing := -1, false
	for {
		h, err := g.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return 0, fmt.Errorf("load generator: Content-Length: %w", err)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, errors.New("load generator: a chunked answer; the servers measured set Content-Length")
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			closing = true
		}
	}
	if length < 0 {
		return 0, errors.New("load generator: an answer without Content-Length")
	}
	if _, err := g.r.Discard(length); err != nil {
		return 0, err
	}
	if closing {
		g.close()
	}
	return status, nil
}

func (g *rawGet) close() {
	if g.conn != nil {
		_ = g.conn.Close()
		g.conn, g.r = nil, nil
	}
}

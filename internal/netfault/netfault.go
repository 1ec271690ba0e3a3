// Package netfault is a TCP proxy for tests that can stop passing bytes
// without closing anything, as a server that hangs (a frozen process, a
// dropped route) looks to its clients: connections stay open and silent.
package netfault

import (
	"net"
	"sync"
)

// Proxy forwards connections from a loopback port to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	frozen   bool
	thawed   chan struct{} // closed on Thaw; replaced on Freeze
	conns    []net.Conn
	stranded map[net.Conn]bool // see Strand
	closed   chan struct{}     // closed by Close
	wg       sync.WaitGroup
}

// Listen starts a proxy to target on a free port of 127.0.0.1.
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, thawed: make(chan struct{}),
		stranded: make(map[net.Conn]bool), closed: make(chan struct{})}
	close(p.thawed)
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Freeze stops passing bytes in either direction, on open connections and
// new ones alike, until Thaw.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thawed = make(chan struct{})
	}
}

// Thaw passes bytes again.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// Strand stops passing bytes on the connections open now, for good, and
// lets later connections through: a client's old connection hangs, as one
// to a server that vanished without closing it, while a new one reaches
// the server again.
func (p *Proxy) Strand() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		p.stranded[c] = true
	}
}

// Close stops the proxy and closes every connection it made.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	close(p.closed)
	p.Thaw()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(server, client) })
		p.wg.Go(func() { p.pipe(client, server) })
	}
}

// pipe copies from src to dst, holding each chunk while the proxy is
// frozen, and for good once src is stranded.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thawed, stranded := p.thawed, p.stranded[src]
			p.mu.Unlock()
			if stranded {
				<-p.closed
				return
			}
			<-thawed
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or a closed connection
		}
	}
}

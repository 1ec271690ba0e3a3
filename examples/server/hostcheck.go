package main

import (
	"net"
	"net/http"
	"strings"
)

// requireHost answers 421 Misdirected Request to every request whose Host
// names neither the loopback address the demo listens on nor localhost.
//
// It is on while every demo user's password is the public default. Binding
// to loopback keeps other machines out, but not other origins: a page at
// http://rebind.example:8080, whose name the attacker's DNS first points at
// their server and then at 127.0.0.1 (DNS rebinding), is same-origin with
// itself in the visitor's browser, so it could sign in as admin with the
// default password and revoke anyone's sessions. The browser still sends the
// attacker's name as Host, which is what this refuses. The port is not
// checked: it is the listening one unless a tunnel (ssh -L) forwards another,
// and those are the operator's own.
func requireHost(next http.Handler, listen net.IP) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := hostname(r.Host)
		if strings.EqualFold(host, "localhost") || listen.Equal(net.ParseIP(host)) {
			next.ServeHTTP(w, r)
			return
		}
		writeError(w, http.StatusMisdirectedRequest, "misdirected",
			"this demo answers for "+hostForURL(listen)+" and localhost only while the default password is in use (set "+envPassword+" to serve it under other names)")
	})
}

// hostname returns the host part of a Host header, with or without a port,
// without the brackets of an IPv6 literal.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// hostForURL writes ip as it appears in a URL's host: IPv6 in brackets.
func hostForURL(ip net.IP) string {
	if ip.To4() == nil {
		return "[" + ip.String() + "]"
	}
	return ip.String()
}

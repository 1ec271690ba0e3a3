package main

import (
	"bytes"
	"html/template"
	"net/http"
	"time"
)

type loginData struct {
	Next  string
	Error string
}

type sessionsData struct {
	User     string
	Admin    bool
	Sessions []sessionRow
	More     string // the cursor of the next page, empty on the last
}

type sessionRow struct {
	ID       string
	Device   string
	IP       string
	LastSeen time.Time
	Current  bool
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in</title>
<h1>Sign in</h1>
{{with .Error}}<p role="alert">{{.}}</p>{{end}}
<form method="post" action="/login">
  <input type="hidden" name="next" value="{{.Next}}">
  <label>User <input name="user" autocomplete="username" required></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button>Sign in</button>
</form>
`))

var sessionsPage = template.Must(template.New("sessions").Parse(`<!doctype html>
<title>Your sessions</title>
<h1>Your sessions, {{.User}}</h1>
<table>
  <tr><th>Device</th><th>Address</th><th>Last seen</th><th></th></tr>
  {{range .Sessions}}
  <tr>
    <td>{{.Device}}</td><td>{{.IP}}</td><td>{{.LastSeen.Format "2006-01-02 15:04"}}</td>
    <td>{{if .Current}}this browser{{else}}<form method="post" action="/sessions/{{.ID}}/revoke"><button>Sign out</button></form>{{end}}</td>
  </tr>
  {{end}}
</table>
{{with .More}}<p><a href="/?after={{.}}">More sessions</a></p>{{end}}
<form method="post" action="/sessions/revoke-others"><button>Sign out everywhere else</button></form>
<form method="post" action="/logout"><button>Sign out</button></form>
{{if .Admin}}
<h2>Administration</h2>
<form method="post" action="/admin/sign-out-user">
  <label>User <input name="user" required></label>
  <button>Sign this user out everywhere</button>
</form>
{{end}}
`))

// render writes the page t with data, or answers 500 when it fails; the
// page is rendered first so that a failure cannot leave half a page.
func render(w http.ResponseWriter, r *http.Request, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		fail(w, r, "rendering "+t.Name(), err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w) // a client that went away is no failure of the app
}

package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Settings read from the environment.
const (
	envPassword   = "REVOKE_DEMO_PASSWORD" // password of every demo user
	envAdminToken = "REVOKE_ADMIN_TOKEN"   // token for the admin APIs
	envCookieKey  = "REVOKE_COOKIE_KEY"    // HMAC key of the session cookie
)

const defaultPassword = "demo"

// defaultFreshFor is -fresh-for's default: a password typed this recently
// is still the person at the keyboard.
const defaultFreshFor = 5 * time.Minute

// defaultMaxSessions is -max-sessions' default: more browsers than one
// person uses, few enough that a leaked password does not sign in a fleet.
const defaultMaxSessions = 5

// minCookieKey is the shortest cookie key accepted: 256 bits, the size of
// the HMAC-SHA256 output.
const minCookieKey = 32

// config is everything the demo is started with.
type config struct {
	addr   string
	dbPath string
	memory bool
	// postgres, when set, is the connection string of the PostgreSQL
	// database that keeps the sessions, in place of SQLite. pgSchema is the
	// schema of the sessions tables there; empty means the connection's
	// current schema.
	postgres string
	pgSchema string
	// redis, when set, is the URL of the Redis server that keeps the
	// sessions (see redis.go).
	redis       string
	redisPrefix string
	// cache puts store/cachestore in front of the PostgreSQL or Redis
	// store (see cache.go).
	cache bool
	// secureCookie marks the session cookie Secure. It is off by default
	// because the demo serves plain http://127.0.0.1: a Secure cookie is
	// only sent back over HTTPS. Some browsers make an exception for
	// localhost, but not every client does (Go's net/http/cookiejar, for
	// one), and there signing in would seem to work while the next request
	// is anonymous. Turn it on whenever the demo is reached over HTTPS (for
	// example behind a TLS-terminating proxy).
	secureCookie bool
	// tls serves HTTPS, with the certificate and key in the PEM files
	// tlsCert and tlsKey, or with a self-signed certificate generated at
	// start-up when they are empty. Giving tlsCert implies tls. The session
	// cookie is Secure whenever the demo serves HTTPS.
	tls     bool
	tlsCert string
	tlsKey  string
	// loginAttempts is how many sign-in attempts, right or wrong, one
	// client address may make per minute; 0 turns the limit off (for load
	// tests from a single address). loginFailures is how many of them may
	// fail per username and address (and five times that per address over
	// all usernames); 0 turns those limits off.
	// maxSessions caps each user's active sessions (0: no cap); a sign-in
	// beyond it evicts the least recently seen, or is refused with
	// refuseOverLimit.
	maxSessions     int
	refuseOverLimit bool
	loginAttempts   int
	loginFailures   int
	// routeRequests is how many requests a minute one session (or one
	// address, without a valid session) may make to the demo's own routes
	// but /login, and a tenth of what one address may make over all its
	// sessions; 0 turns the limit off.
	routeRequests int
	// freshFor is how long after typing the password a session may sign
	// out everywhere; later, the page asks for the password again.
	freshFor time.Duration
	// now is the Manager's clock; nil is the real one. Tests move it.
	now func() time.Time

	password        string
	defaultPassword bool
	adminToken      string
	adminTokenMade  bool   // adminToken was generated, not configured
	cookieKey       []byte // nil: a random key, cookies die with the process

	oidc    oidcFlags    // sign-in through an OpenID provider; see oidc.go
	caep    caepFlags    // CAEP security events out and in; see caep.go
	metrics metricsFlags // the Prometheus endpoint; see metrics.go
}

// parseConfig reads the flags in args and the settings in getenv. Usage
// and flag errors are written to out.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&cfg.dbPath, "db", "revoke-demo.db", "SQLite database file")
	fs.BoolVar(&cfg.memory, "memory", false, "keep sessions in memory instead of SQLite")
	fs.StringVar(&cfg.postgres, "postgres", "", "keep sessions in the PostgreSQL database at this `URL` (or key=value string) instead of SQLite")
	fs.StringVar(&cfg.pgSchema, "postgres-schema", "", "PostgreSQL schema `name` for the sessions tables with -postgres, created when missing (default: the connection's current schema)")
	registerRedisFlags(fs, &cfg)
	fs.BoolVar(&cfg.cache, "cache", false, "with -postgres or -redis, resolve sessions from memory, kept exact by the store's invalidations: a revocation returns once no instance can accept the session (give every instance -cache)")
	fs.BoolVar(&cfg.secureCookie, "secure-cookie", false, "mark the session cookie Secure (set it when HTTPS ends in front of the demo; -tls sets it)")
	fs.BoolVar(&cfg.tls, "tls", false, "serve HTTPS, with a self-signed certificate for localhost, 127.0.0.1 and ::1 generated at start-up (written to a file, and how to trust it printed) unless -tls-cert and -tls-key are given")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "serve HTTPS with the certificate (chain) in this PEM `file`; needs -tls-key")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "private key of -tls-cert, a PEM `file`")
	fs.IntVar(&cfg.loginAttempts, "login-attempts", defaultLoginAttempts, "sign-in attempts, right or wrong, allowed per minute from one address; 0 turns the limit off")
	fs.IntVar(&cfg.routeRequests, "route-requests", defaultRouteRequests, fmt.Sprintf("requests allowed per minute to /me, /logout and /demo/* per session, or per address without one (and %d times as many from one address in all); 0 turns the limit off", routeAddressFactor))
	fs.IntVar(&cfg.loginFailures, "login-failures", defaultLoginFailures, fmt.Sprintf("failed sign-ins allowed per minute for one username from one address (and %d times as many from one address over all usernames); 0 turns these limits off", addressFailuresFactor))
	fs.IntVar(&cfg.maxSessions, "max-sessions", defaultMaxSessions, "active sessions allowed per user; a sign-in beyond it signs out the session seen least recently (0: no cap)")
	fs.DurationVar(&cfg.freshFor, "fresh-for", defaultFreshFor, "how long after typing the password a session may sign out everywhere before the password is asked for again")
	fs.BoolVar(&cfg.refuseOverLimit, "refuse-over-limit", false, "with -max-sessions, refuse a sign-in beyond the cap instead of signing out an older session")
	cfg.oidc.register(fs)
	cfg.caep.register(fs)
	cfg.metrics.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: server [flags]\n\nThe revoke demo server.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nStores:\n"+
			"  Sessions are kept in the SQLite file -db by default, in memory with -memory,\n"+
			"  in PostgreSQL with -postgres, or in Redis with -redis (and -redis-prefix).\n"+
			"  -postgres and -redis cannot be combined with -memory, -db or each other.\n"+
			"  Instances started with the same -postgres database and schema, or the same\n"+
			"  -redis server and prefix, and the same %s serve the same sessions (give them the same\n"+
			"  %s too, for one admin token everywhere), and a revocation on\n"+
			"  one is seen at once by the others. The password may be left out of the URL\n"+
			"  and given in PGPASSWORD or ~/.pgpass instead; it is never logged.\n",
			envCookieKey, envAdminToken)
		fmt.Fprintf(out, "\nCAEP security events:\n"+
			"  With -caep-issuer, every revocation (a sign-out, an administrator's, a provider's,\n"+
			"  the session cap's, a password change) is recorded in the store's outbox in the same\n"+
			"  write and pushed to -caep-push-url as signed session-revoked SETs, at least once;\n"+
			"  the signing key's JWKS is served at GET %s. With -caep-audience, POST\n"+
			"  /auth/ssf/events takes the SETs of -caep-transmitter, verified against its JWKS\n"+
			"  (-caep-transmitter-jwks), and a session-revoked event ends the sessions it names.\n"+
			"  A sign-in links its session to the transmitter's session of the same user with\n"+
			"  \"transmitterSession\": \"<that session's id>\" in the body of POST /login. Two\n"+
			"  demos, one with -caep-issuer and one with -caep-audience, each with its own store,\n"+
			"  then sign out together through events alone.\n", jwksPath)
		fmt.Fprintf(out, "\nEnvironment:\n"+
			"  %s  password of every demo user (default %q)\n"+
			"  %s    token for the admin APIs (default: random, shown at start-up on a terminal only)\n"+
			"  %s     session cookie key, hex or base64, at least %d bytes (default: random)\n",
			envPassword, defaultPassword, envAdminToken, envCookieKey, minCookieKey)
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := checkStoreFlags(fs, cfg); err != nil {
		return config{}, err
	}
	if cfg.freshFor < time.Second {
		return config{}, fmt.Errorf("-fresh-for must be at least 1s, got %s", cfg.freshFor)
	}
	if err := checkTLSFlags(cfg); err != nil {
		return config{}, err
	}
	if cfg.serveTLS() {
		cfg.secureCookie = true
	}
	if err := cfg.oidc.check(); err != nil {
		return config{}, err
	}
	if err := cfg.caep.check(); err != nil {
		return config{}, err
	}
	if err := cfg.metrics.check(); err != nil {
		return config{}, err
	}

	cfg.password = getenv(envPassword)
	if cfg.password == "" {
		cfg.password, cfg.defaultPassword = defaultPassword, true
	}
	if err := checkListenAddr(cfg.addr, cfg.defaultPassword); err != nil {
		return config{}, err
	}

	cfg.adminToken = getenv(envAdminToken)
	if cfg.adminToken == "" {
		cfg.adminToken, cfg.adminTokenMade = rand.Text(), true
	}

	if v := getenv(envCookieKey); v != "" {
		key, err := parseKey(v)
		if err != nil {
			return config{}, fmt.Errorf("%s: %w", envCookieKey, err)
		}
		cfg.cookieKey = key
	}
	return cfg, nil
}

// checkStoreFlags refuses store flags that contradict each other. -db
// together with -postgres is an error rather than ignored: an operator who
// names a SQLite file expects it to be used, and must not find out later
// that the sessions went elsewhere.
func checkStoreFlags(fs *flag.FlagSet, cfg config) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := checkRedisFlags(set, cfg); err != nil {
		return err
	}
	switch {
	case set["postgres"] && cfg.postgres == "":
		return errors.New("-postgres is empty; give a connection URL")
	case set["postgres"] && cfg.memory:
		return errors.New("-memory and -postgres both name a session store; give one of them")
	case set["postgres"] && set["db"]:
		return errors.New("-db names a SQLite file and cannot be combined with -postgres; give one of them")
	case set["postgres-schema"] && !set["postgres"]:
		return errors.New("-postgres-schema needs -postgres")
	case cfg.cache && cfg.postgres == "" && cfg.redis == "":
		return errors.New("-cache needs -postgres or -redis: a cache is for a store that several instances share")
	case cfg.postgres == "" && cfg.redis == "" && !cfg.memory && cfg.dbPath == "":
		return errors.New("-db is empty; give a file name or use -memory")
	}
	return nil
}

// checkListenAddr refuses to expose the demo beyond this machine while every
// demo user's password is the well-known default.
func checkListenAddr(addr string, defaultPassword bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	if !defaultPassword || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-addr %q is not a loopback address: set %s before listening beyond this machine", addr, envPassword)
}

// parseKey decodes a key given as hex or as base64 (standard or URL
// alphabet, padded or not).
func parseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	decoders := []func(string) ([]byte, error){
		hex.DecodeString,
		base64.StdEncoding.DecodeString,
		base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString,
		base64.RawURLEncoding.DecodeString,
	}
	for _, decode := range decoders {
		if key, err := decode(s); err == nil {
			if len(key) < minCookieKey {
				return nil, fmt.Errorf("key is %d bytes; use at least %d", len(key), minCookieKey)
			}
			return key, nil
		}
	}
	return nil, errors.New("key is neither hex nor base64")
}

// storeName says where sessions are kept, for the log.
func (c config) storeName() string {
	switch {
	case c.memory:
		return "memory"
	case c.redis != "":
		return "redis:" + redactRedisURL(c.redis)
	case c.postgres != "":
		name := "postgres:" + redactConnString(c.postgres)
		if c.pgSchema != "" {
			name += " schema=" + c.pgSchema
		}
		return name
	}
	return "sqlite:" + c.dbPath
}

// redactConnString describes the PostgreSQL server and database of a
// connection string, for the log, as postgres://user@host:port/database.
// It is rebuilt from the parsed settings instead of cutting the password
// out of the string, so that no spelling of a password (in the user info, in
// a query parameter, in key=value form, percent-encoded) can slip through.
func redactConnString(connString string) string {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return "(unparsable connection string)"
	}
	hosts := []string{net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	seen := map[string]bool{hosts[0]: true}
	for _, fb := range cfg.Fallbacks {
		// A host appears once per TLS mode it is tried with; name it once.
		if hp := net.JoinHostPort(fb.Host, strconv.Itoa(int(fb.Port))); !seen[hp] {
			seen[hp] = true
			hosts = append(hosts, hp)
		}
	}
	return fmt.Sprintf("postgres://%s@%s/%s", cfg.User, strings.Join(hosts, ","), cfg.Database)
}

// announce tells the operator what the demo runs with. out is stdout, and
// terminal says whether it is a terminal (see showAdminToken).
func (c config) announce(logger *slog.Logger, out io.Writer, terminal bool) {
	var regular, admins []string
	for _, u := range demoUsers {
		if u.Admin {
			admins = append(admins, u.ID)
		} else {
			regular = append(regular, u.ID)
		}
	}
	pw := "from " + envPassword
	if c.defaultPassword {
		pw = defaultPassword
	}
	logger.Info("demo users", "users", strings.Join(regular, ","), "admins", strings.Join(admins, ","), "password", pw)
	if c.cookieKey == nil {
		logger.Warn("using a random cookie key: session cookies will not survive a restart (set " + envCookieKey + " to keep them)")
	}
	showAdminToken(c, logger, out, terminal)
}

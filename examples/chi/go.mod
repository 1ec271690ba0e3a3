module github.com/revokehq/revoke/examples/chi

go 1.26.0

replace github.com/revokehq/revoke => ../..

require (
	github.com/go-chi/chi/v5 v5.5.0
	github.com/matryer/is v1.4.1
	github.com/revokehq/revoke v0.0.0-00010101000000-000000000000
)

require (
	github.com/boyter/go-string v1.0.5 // indirect
	github.com/coreos/go-oidc/v3 v3.21.0 // indirect
	github.com/go-chi/httprate v0.16.1 // indirect
	github.com/go-jose/go-jose/v4 v4.1.9 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/klauspost/cpuid/v2 v2.4.0 // indirect
	github.com/medama-io/go-useragent v1.2.5 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	golang.org/x/oauth2 v0.36.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

// Package idp holds end-to-end tests of revoke against a real OpenID
// provider: Ory Hydra v2.3.0, built from source by hydra/ (a module of its
// own) and run on the local PostgreSQL. A test app built on revoke signs a
// user in through Hydra's authorization-code flow, acting as Hydra's login
// and consent provider through its admin API; the tests then end the
// user's Hydra login session and check that Hydra's back-channel logout
// token reaches the app, is verified, and ends the app's session on every
// instance sharing the store.
//
//	(cd hydra && go build -o ~/.cache/revoke-hydra/hydra-v2.3.0 github.com/ory/hydra/v2)
//	go test ./...
//
// The tests look for the Hydra binary at $REVOKE_HYDRA, else at
// hydra-v2.3.0 under revoke-hydra in the user's cache directory (where
// .ci/run builds it once), and for PostgreSQL at
// postgres://postgres@127.0.0.1:5432 ($REVOKE_TEST_POSTGRES names another
// server); without either they skip, saying which is missing. Each run
// creates a database of its own and drops it afterwards. Everything binds
// 127.0.0.1.
//
// This is a module of its own so that the provider's dependencies stay out
// of the library's.
package idp

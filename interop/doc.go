// Package interop tests the handlers with the official clients of the APIs
// they imitate: Okta's Go SDK and Ory's Go client, unmodified. It is a module
// of its own so that the library does not depend on those clients.
//
// For the Okta SDKs in other languages (Python, Java, .NET, Node, and the Go
// versions not run here) it replays, byte for byte, the requests
// shared/research/okta-sdk-wire.md records them sending, and checks each
// answer against a model of what that SDK parses (sdkmodel_test.go,
// sdkwire_test.go, wire_test.go). The JavaScript clients also run for real
// from interop-js/.
package interop

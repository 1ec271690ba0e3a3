// Package interop tests the handlers with the official clients of the APIs
// they imitate: Okta's Go SDK and Ory's Go client, unmodified. It is a module
// of its own so that the library does not depend on those clients.
package interop

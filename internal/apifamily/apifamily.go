// Package apifamily carries, in a request's context, which family of
// endpoints (okta, kratos, admin, ...) a call to the Manager comes from, so
// that the Manager's revocation counter can be broken down by it without a
// parameter on every revocation method. A call with none set comes from the
// app itself.
package apifamily

import "context"

// App is the family of a call the app makes itself, outside the handlers.
const App = "app"

type key struct{}

// With returns ctx marked as coming from the endpoints of family.
func With(ctx context.Context, family string) context.Context {
	return context.WithValue(ctx, key{}, family)
}

// From returns the family ctx was marked with, or App.
func From(ctx context.Context) string {
	if f, ok := ctx.Value(key{}).(string); ok {
		return f
	}
	return App
}

package handlers_test

import (
	"testing"

	"github.com/matryer/is"

	"github.com/revokehq/revoke"
	"github.com/revokehq/revoke/handlers"
	"github.com/revokehq/revoke/store/memstore"
)

func TestTelemetryOptionsRefuseNil(t *testing.T) {
	is := is.New(t)
	m, err := revoke.New(memstore.New())
	is.NoErr(err)
	_, err = handlers.New(m, handlers.WithMeterProvider(nil))
	is.True(err != nil)
	_, err = handlers.New(m, handlers.WithTracerProvider(nil))
	is.True(err != nil)
}

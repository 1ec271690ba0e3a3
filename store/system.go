package store

// SystemNamer is implemented by stores that name the database system they
// run on, as OpenTelemetry's db.system.name attribute spells it
// ("postgresql", "sqlite", "redis"). The Manager labels the duration and
// the spans of its store calls with it; a store without it is named by its
// Go package ("memstore").
type SystemNamer interface {
	SystemName() string
}

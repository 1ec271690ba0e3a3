package handlers

// FamilyDoc is what the OpenAPI document must say of the routes of a
// family, as the family's definition has it.
type FamilyDoc struct {
	ErrorSchema      string   // "#/components/schemas/..." of every error body
	RateHeaders      []string // on every answer
	RequestIDHeaders []string // on every answer
	Prefixes         []string // each documented under x-unmatched-paths
}

// DocOf returns the FamilyDoc of fam, for the tests of package handlers_test.
func DocOf(fam Family) FamilyDoc {
	f := fam.spec()
	ids := []string{RequestIDHeader}
	if f.requestIDHeader != "" {
		ids = append(ids, f.requestIDHeader)
	}
	return FamilyDoc{
		ErrorSchema:      "#/components/schemas/" + f.errorSchema,
		RateHeaders:      []string{f.rateHeaders.Limit, f.rateHeaders.Remaining, f.rateHeaders.Reset},
		RequestIDHeaders: ids,
		Prefixes:         f.prefixes,
	}
}

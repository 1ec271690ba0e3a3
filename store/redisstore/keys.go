package redisstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/revokehq/revoke/store"
)

// The keys of a store, under its prefix P:
//
//	P s:<id>     hash: one session (fields below)
//	P t:<hash>   string: the id of the session whose token hashes to <hash> (hex)
//	P u:<user>   sorted set: every session of the user (members below)
//	P a:<user>   sorted set: the user's sessions that are not revoked
//	P nb:<user>  string: the user's not-before time
//	P old        sorted set: every session, scored by when it becomes old
//	P cleanup    string: held by the instance running the background cleanup
//	P leases     sorted set: the instances' leases (see invalidator.go)
//	P op:<call>  string: a write script's answer, for a minute (see writeScript)
//	P ptx        never written: the first key of an identity-provider transaction on a cluster (see ProviderTx)
//
// and those of the identity-provider extensions (pl:, pe:, ps:, pj:; see
// providerDatabase in provider.go).
//
// A member of a user's sorted sets is the session's creation time, as 16
// hex digits that sort in time order, followed by its id, all with score
// 0: ZREVRANGEBYLEX then lists them in store.Cursor's order (newest first,
// ties by id compared byte by byte, greater first).
//
// A capped create (limit.go) reads the user's "a:" set, as Revoke does.
//
// The pub/sub channels P notices and P notices:<instance> carry the
// notices of store.Invalidator (see invalidator.go).

// txAnchorKey, under the prefix, is the key an identity-provider
// transaction on a Redis Cluster watches first, and nothing writes.
const txAnchorKey = "ptx"

// The fields of a session's hash.
const (
	fID, fUser, fHash, fCreated, fAuth, fLastSeen = "id", "u", "h", "c", "a", "l"
	fExpires, fIdle, fRevoked, fReason            = "e", "i", "r", "rr"
	fIP, fUserAgent, fData, fMember               = "ip", "ua", "d", "m"
	fMethods, fLabels                             = "am", "lb" // JSON (store.EncodeMethods, EncodeLabels); absent for none
)

// The range of times the store keeps exactly: Unix microseconds a double
// holds exactly (2^53 of them either side of 1970) and then some margin.
var (
	minTime = time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2250, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Microsecond)
)

const timeRange = "the years 1700 to 2249"

// micros returns t as whole Unix microseconds, rounded down.
func micros(t time.Time) int64 { return t.Truncate(time.Microsecond).UnixMicro() }

func microsArg(t time.Time) string { return strconv.FormatInt(micros(t), 10) }

// member returns the index member of a session created at createdAt
// (whole microseconds) with the given id.
func member(createdAt int64, id string) string {
	return fmt.Sprintf("%016x", uint64(createdAt)^(1<<63)) + id
}

// afterBound returns the ZREVRANGEBYLEX bound that starts a page after c.
// A cursor with a fraction of a microsecond lies strictly between two
// stored times: every session of the microsecond below comes after it,
// which is the position before every session of the microsecond above.
func afterBound(c store.Cursor) string {
	if c.IsZero() {
		return "+"
	}
	at := micros(c.CreatedAt)
	if !c.CreatedAt.Truncate(time.Microsecond).Equal(c.CreatedAt) {
		return "(" + member(at+1, "")
	}
	return "(" + member(at, c.ID)
}

func hashArg(h [32]byte) string { return hex.EncodeToString(h[:]) }

// sessionOf decodes the flat field/value list of HGETALL.
func sessionOf(kv []any) (store.Session, error) {
	if len(kv) == 0 {
		return store.Session{}, store.ErrNotFound
	}
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		v, _ := kv[i+1].(string)
		m[k] = v
	}
	return sessionOfMap(m)
}

func sessionOfMap(m map[string]string) (store.Session, error) {
	if len(m) == 0 {
		return store.Session{}, store.ErrNotFound
	}
	s := store.Session{
		ID: m[fID], UserID: m[fUser], RevokeReason: m[fReason],
		IP: m[fIP], UserAgent: m[fUserAgent],
	}
	if d := m[fData]; d != "" {
		s.Data = []byte(d)
	}
	h, err := hex.DecodeString(m[fHash])
	if err == nil {
		s.TokenHash, err = store.TokenHashOf(h)
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{
		{fCreated, &s.CreatedAt}, {fAuth, &s.AuthenticatedAt}, {fLastSeen, &s.LastSeenAt},
		{fExpires, &s.ExpiresAt}, {fIdle, &s.IdleExpiresAt}, {fRevoked, &s.RevokedAt},
	} {
		v, ok := m[f.name]
		if !ok && f.name == fRevoked {
			continue
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil {
			err = errors.Join(err, fmt.Errorf("field %s: %w", f.name, perr))
			continue
		}
		*f.t = time.UnixMicro(n).UTC()
	}
	var serr error
	if s.AuthMethods, serr = store.DecodeMethods(m[fMethods]); serr != nil {
		err = errors.Join(err, serr)
	}
	if s.Labels, serr = store.DecodeLabels(m[fLabels]); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("redisstore: session %q is malformed: %w", s.ID, err)
	}
	return s, nil
}

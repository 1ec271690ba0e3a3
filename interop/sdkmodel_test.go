package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/okta/okta-sdk-golang/v5/okta"
)

// What each Okta SDK makes of an answer, rule by rule as
// shared/research/okta-sdk-wire.md records it from the SDK's source (the
// file is named with each rule). A model says how the SDK's call ends (a
// success, a typed Okta error with its errorCode, or an untyped error with
// the status), or returns an error naming what the answer breaks: a crash,
// an error reported as a success, a retry the SDK cannot compute.

// answer is a response as the SDK receives it.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// outcome is how an SDK call ends.
type outcome struct {
	success   bool
	errorCode string // of a typed Okta error; "" for an untyped one
	status    int    // the status an error reports
}

func (o outcome) String() string {
	if o.success {
		return "success"
	}
	return fmt.Sprintf("error %d %q", o.status, o.errorCode)
}

// retryPlan is what an SDK does with an answer it may retry.
type retryPlan struct {
	retries bool
	wait    time.Duration
}

// operation is the SDK call whose answer is read.
type operation int

const (
	opRevoke operation = iota // revokeUserSessions: success is 204
	opEnd                     // endUserSessions: success is 200
)

// sdkModel is what one SDK line needs of an answer.
type sdkModel struct {
	// outcome says how a call of op ends on a, or what breaks.
	outcome func(op operation, a answer) (outcome, error)
	// retry says whether the SDK retries a and after how long, or what
	// breaks its retry logic. It is only asked about a status the SDK
	// retries (see retried).
	retry   func(a answer) (retryPlan, error)
	retried []int
}

// okta error body with the fields every SDK reads; errorCauses stays raw
// so that its shape can be checked.
type oktaBody struct {
	ErrorCode   *string          `json:"errorCode"`
	ErrorLink   *string          `json:"errorLink"`
	ErrorID     *string          `json:"errorId"`
	ErrorCauses *json.RawMessage `json:"errorCauses"`
}

func decodeOkta(body []byte) (oktaBody, bool) {
	var b oktaBody
	if err := json.Unmarshal(body, &b); err != nil {
		return oktaBody{}, false
	}
	return b, true
}

// causesAreObjects reports whether errorCauses is a list of objects, as
// Python (cause.get) and Node (causes.map(c => c.errorSummary)) read it.
func causesAreObjects(raw *json.RawMessage) bool {
	if raw == nil {
		return true
	}
	var causes []map[string]any
	return json.Unmarshal(*raw, &causes) == nil && causes != nil
}

// typedFromJSON is the errorCode a caller of Java's ApiExceptionHelper or of
// .NET's ErrorContent reads from an error body: the SDK itself keeps the
// body raw, so any answer is fine.
func typedFromJSON(a answer) outcome {
	o := outcome{status: a.status}
	if b, ok := decodeOkta(a.body); ok && b.ErrorCode != nil {
		o.errorCode = *b.ErrorCode
	}
	return o
}

// ---- Python: okta-sdk-python v3.x and 2.9.x ----

// pythonContentType is aiohttp's ClientResponse.content_type: the media type
// without parameters, application/octet-stream without the header
// (aiohttp helpers.py).
func pythonContentType(h http.Header) string {
	vs, ok := h["Content-Type"]
	if !ok {
		return "application/octet-stream"
	}
	mt, _, err := mime.ParseMediaType(vs[0])
	if err != nil {
		return strings.ToLower(strings.TrimSpace(vs[0]))
	}
	return mt
}

// pythonOutcome is okta/http_client.py check_response_for_error and the
// generated method's return (okta/api/user_sessions_api.py). v2 is Python
// 2.x: its OktaAPIError requires errorLink and errorId too, and its
// hand-written method (okta/resource_clients/user_client.py) reports an
// empty-bodied error as one.
func pythonOutcome(v2 bool) func(operation, answer) (outcome, error) {
	needAll := v2
	return func(_ operation, a answer) (outcome, error) {
		ct := pythonContentType(a.header)
		if a.status >= 200 && a.status < 300 {
			// http_client.py L206: json.loads when the type is JSON.
			if ct == "application/json" && !json.Valid(a.body) {
				return outcome{}, errors.New("json.loads raises JSONDecodeError on a JSON-typed success body")
			}
			// Python 2.x's OktaAPIResponse also parses a body whose
			// Content-Type is present but empty (okta/api_response.py).
			if needAll && ct == "" && !json.Valid(a.body) {
				return outcome{}, errors.New("OktaAPIResponse.build_json_response raises JSONDecodeError")
			}
			return outcome{success: true}, nil
		}
		if ct != "application/json" {
			if len(a.body) == 0 && !v2 {
				// user_sessions_api.py L144.
				return outcome{}, errors.New("a non-2xx answer with an empty body is reported as a success")
			}
			return outcome{status: a.status}, nil // HTTPError
		}
		if !json.Valid(a.body) {
			return outcome{}, errors.New("json.loads raises JSONDecodeError on the error body")
		}
		b, _ := decodeOkta(a.body)
		if b.ErrorCode == nil || needAll && (b.ErrorLink == nil || b.ErrorID == nil) {
			return outcome{status: a.status}, nil // KeyError: HTTPError
		}
		if !causesAreObjects(b.ErrorCauses) {
			return outcome{}, errors.New("OktaAPIError calls .get on each of errorCauses, which are not objects")
		}
		return outcome{status: a.status, errorCode: *b.ErrorCode}, nil
	}
}

// pythonRetry is okta/request_executor.py: 429, 503 and 504 need both Date
// (strptime "%a, %d %b %Y %H:%M:%S %Z") and X-Rate-Limit-Reset (float, the
// least of several, 0 counting as missing), else the call crashes with an
// AttributeError; only a 429 waits, reset - Date + 1 seconds.
func pythonRetry(a answer) (retryPlan, error) {
	date, resets := a.header.Get("Date"), a.header.Values("X-Rate-Limit-Reset")
	if date == "" || len(resets) == 0 {
		return retryPlan{}, errors.New("no Date or X-Rate-Limit-Reset: the executor returns an Exception and the call fails with AttributeError")
	}
	zone := date[strings.LastIndexByte(date, ' ')+1:]
	when, err := time.Parse("Mon, 02 Jan 2006 15:04:05 MST", date)
	if err != nil || zone != "GMT" && zone != "UTC" {
		return retryPlan{}, fmt.Errorf("Date %q: strptime raises ValueError", date)
	}
	reset := math.Inf(1)
	for _, v := range resets {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return retryPlan{}, fmt.Errorf("X-Rate-Limit-Reset %q: float() raises ValueError", v)
		}
		reset = math.Min(reset, f)
	}
	if reset == 0 {
		return retryPlan{}, errors.New("X-Rate-Limit-Reset 0 counts as missing: AttributeError")
	}
	if a.status != http.StatusTooManyRequests {
		return retryPlan{retries: true}, nil
	}
	wait := reset - float64(when.Unix()) + 1
	return retryPlan{retries: true, wait: time.Duration(math.Max(wait, 0) * float64(time.Second))}, nil
}

var (
	pythonV3 = sdkModel{outcome: pythonOutcome(false), retry: pythonRetry, retried: []int{429, 503, 504}}
	pythonV2 = sdkModel{outcome: pythonOutcome(true), retry: pythonRetry, retried: []int{429, 503, 504}}
)

// ---- Java: okta-sdk-java (ApiClient.mustache, RetryUtil.java) ----

// javaOutcome: 204 returns null before the body is read, a void 200 never
// reads it, and any other status throws ApiException with the raw body.
func javaOutcome(_ operation, a answer) (outcome, error) {
	if a.status >= 200 && a.status < 300 {
		return outcome{success: true}, nil
	}
	return typedFromJSON(a), nil
}

// javaRetry is OktaHttpRequestRetryStrategy.java and RetryUtil.java
// @4c6a6a6b: a 429 waits max(reset*1000 - Date + 1000, 1000) ms, at most
// 20 s; a missing or bad header makes the delay -1, a retry at once. 503
// and 504 back off 2^n * 300 ms.
func javaRetry(a answer) (retryPlan, error) {
	if a.status != http.StatusTooManyRequests {
		return retryPlan{retries: true, wait: 600 * time.Millisecond}, nil
	}
	date, err := time.Parse(time.RFC1123, a.header.Get("Date"))
	if err != nil {
		return retryPlan{}, errors.New("no RFC 1123 Date: the 429 is retried at once")
	}
	reset, err := strconv.ParseInt(a.header.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil {
		return retryPlan{}, errors.New("X-Rate-Limit-Reset is not a long: the 429 is retried at once")
	}
	ms := max(reset*1000-date.UnixMilli()+1000, 1000)
	return retryPlan{retries: true, wait: time.Duration(min(ms, 20000)) * time.Millisecond}, nil
}

var java = sdkModel{outcome: javaOutcome, retry: javaRetry, retried: []int{429, 503, 504}}

// ---- .NET: okta-sdk-dotnet (Configuration.cs, RetryConfiguration.cs) ----

// dotnetOutcome is DefaultExceptionFactory: a status of 400 or more throws
// ApiException with the raw body; anything below returns normally, a 3xx
// (not followed) included.
func dotnetOutcome(_ operation, a answer) (outcome, error) {
	switch {
	case a.status >= 400:
		return typedFromJSON(a), nil
	case a.status >= 300:
		return outcome{}, fmt.Errorf("a %d returns normally: a silent success", a.status)
	}
	return outcome{success: true}, nil
}

// dotnetRetry is RetryConfiguration.cs: a 429 waits the least
// X-Rate-Limit-Reset (long.Parse) - DateTimeOffset.Parse(Date) + 1 s.
// Without a reset (or with a bad one) the sleep provider throws inside
// Polly and the call returns normally: a silent success.
func dotnetRetry(a answer) (retryPlan, error) {
	resets := a.header.Values("X-Rate-Limit-Reset")
	if len(resets) == 0 {
		return retryPlan{}, errors.New("no X-Rate-Limit-Reset: Min() throws in Polly and the call silently succeeds")
	}
	reset := int64(math.MaxInt64)
	for _, v := range resets {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return retryPlan{}, fmt.Errorf("X-Rate-Limit-Reset %q: long.Parse throws and the call silently succeeds", v)
		}
		reset = min(reset, n)
	}
	date, err := http.ParseTime(a.header.Get("Date"))
	if err != nil {
		return retryPlan{}, errors.New("no Date: the delay is 0, a retry at once")
	}
	return retryPlan{retries: true, wait: time.Unix(reset, 0).Sub(date) + time.Second}, nil
}

var dotnet = sdkModel{outcome: dotnetOutcome, retry: dotnetRetry, retried: []int{429}}

// ---- Go: okta-sdk-golang v5 and v6 (okta/client.go, api_user_sessions.go) ----

// goJSON is the SDK's jsonCheck: the Content-Types it decodes as JSON.
var goJSON = regexp.MustCompile(`(?i:(?:application|text)/(?:vnd\.[^;]+\+)?json)`)

// goOutcome: a status below 300 returns without reading the body. For the
// statuses the spec lists (403, 404, 429) the body is decoded into
// okta.Error by its Content-Type ("undefined response type" for another);
// the others are a GenericOpenAPIError whose Body the caller may decode.
func goOutcome(_ operation, a answer) (outcome, error) {
	if a.status < 300 {
		return outcome{success: true}, nil
	}
	o := outcome{status: a.status}
	switch a.status {
	case http.StatusForbidden, http.StatusNotFound, http.StatusTooManyRequests:
		if len(a.body) == 0 {
			return o, nil
		}
		if !goJSON.MatchString(a.header.Get("Content-Type")) {
			return outcome{}, errors.New(`the error body is replaced by "undefined response type"`)
		}
	}
	var m okta.Error // the SDK's own model
	if err := json.Unmarshal(a.body, &m); err != nil {
		if a.status == http.StatusForbidden || a.status == http.StatusNotFound || a.status == http.StatusTooManyRequests {
			return outcome{}, fmt.Errorf("the SDK cannot decode the error body: %v", err)
		}
		return o, nil
	}
	o.errorCode = m.GetErrorCode()
	return o, nil
}

// goRetry is client.go: a 429 needs Date in exactly
// "Mon, 02 Jan 2006 15:04:05 GMT" and X-Rate-Limit-Reset for strconv.Atoi
// (the first), else the error is permanent; the wait is reset - Date + 1 s.
func goRetry(a answer) (retryPlan, error) {
	date, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", a.header.Get("Date"))
	if err != nil {
		return retryPlan{}, errors.New("date header is missing or invalid")
	}
	reset, err := strconv.Atoi(a.header.Get("X-Rate-Limit-Reset"))
	if err != nil {
		return retryPlan{}, errors.New("X-Rate-Limit-Reset header is missing or invalid")
	}
	return retryPlan{retries: true, wait: time.Duration(int64(reset)-date.Unix()+1) * time.Second}, nil
}

var golang = sdkModel{outcome: goOutcome, retry: goRetry, retried: []int{429}}

// ---- Node: okta-sdk-nodejs 7.x and 8.x (src/http.js, UserApi.js) ----

// nodeOutcome: Http.errorFilter throws first for any status outside 2xx,
// with OktaApiError when the body is a JSON object whose errorCauses is a
// list (whatever the Content-Type), else HttpError. The generated
// processor returns at once on its operation's success status (204 for
// revoke, 200 for end); another 2xx goes through ObjectSerializer.parse,
// which throws on an empty JSON-typed body or a type it does not know.
func nodeOutcome(op operation, a answer) (outcome, error) {
	if a.status < 200 || a.status >= 300 {
		var v map[string]json.RawMessage
		if json.Unmarshal(a.body, &v) != nil || v == nil {
			return outcome{status: a.status}, nil // HttpError
		}
		b, _ := decodeOkta(a.body)
		var causes []json.RawMessage
		if b.ErrorCauses == nil || json.Unmarshal(*b.ErrorCauses, &causes) != nil || causes == nil {
			return outcome{status: a.status}, nil // HttpError
		}
		o := outcome{status: a.status}
		if b.ErrorCode != nil {
			o.errorCode = *b.ErrorCode
		}
		return o, nil
	}
	if op == opRevoke && a.status == http.StatusNoContent || op == opEnd && a.status == http.StatusOK {
		return outcome{success: true}, nil
	}
	ct := a.header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case ct == "", strings.HasPrefix(mt, "text/"):
		return outcome{success: true}, nil
	case mt == "application/json":
		if !json.Valid(a.body) {
			return outcome{}, errors.New("JSON.parse throws SyntaxError on the body")
		}
		return outcome{success: true}, nil
	}
	return outcome{}, fmt.Errorf("mediaType %q is not supported", mt)
}

// nodeRetry is src/default-request-executor.js: a 429 is retried only with
// exactly one x-rate-limit-reset (fetch joins several with a comma), after
// reset*1000 - Date + 1000 ms; without Date the delay is NaN, a retry at
// once.
func nodeRetry(a answer) (retryPlan, error) {
	resets := a.header.Values("X-Rate-Limit-Reset")
	if len(resets) != 1 || strings.Contains(resets[0], ",") {
		return retryPlan{}, errors.New("not exactly one x-rate-limit-reset: no retry, OktaApiError 429")
	}
	reset, err := strconv.ParseInt(strings.TrimSpace(resets[0]), 10, 64)
	if err != nil {
		return retryPlan{}, errors.New("x-rate-limit-reset is not a number: the delay is NaN")
	}
	date, err := http.ParseTime(a.header.Get("Date"))
	if err != nil {
		return retryPlan{}, errors.New("no Date: the delay is NaN, a retry at once")
	}
	return retryPlan{retries: true, wait: time.Duration(reset*1000-date.UnixMilli()+1000) * time.Millisecond}, nil
}

var node = sdkModel{outcome: nodeOutcome, retry: nodeRetry, retried: []int{429}}

// TestSDKModelsMatchResearch holds the models to the research file's
// cross-SDK matrix (section 6) and its degraded answers (7.2, L3): what
// breaks which SDK. The replay is only as good as these models.
func TestSDKModelsMatchResearch(t *testing.T) {
	models := []struct {
		name string
		m    sdkModel
	}{{"python3", pythonV3}, {"python2", pythonV2}, {"java", java}, {"dotnet", dotnet}, {"go", golang}, {"node", node}}
	date := "Tue, 01 Dec 2026 12:00:00 GMT"
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	errorBody := []byte(`{"errorCode":"E0000007","errorSummary":"Not found","errorLink":"E0000007","errorId":"oae1","errorCauses":[]}`)
	cases := []struct {
		name string
		op   operation
		a    answer
		// broken lists the models that fail on the answer.
		broken []string
	}{
		{"204 + JSON Content-Type + empty", opRevoke, answer{204, jsonCT, nil}, []string{"python3", "python2"}},
		{"200 + JSON Content-Type + empty, revoke", opRevoke, answer{200, jsonCT, nil}, []string{"python3", "python2", "node"}},
		{"204 + JSON Content-Type, end", opEnd, answer{204, jsonCT, nil}, []string{"python3", "python2", "node"}},
		{"200 + JSON {}, end", opEnd, answer{200, jsonCT, []byte(`{}`)}, nil},
		{"empty-bodied 404", opRevoke, answer{404, http.Header{}, nil}, []string{"python3"}},
		{"text/plain 404", opRevoke, answer{404, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte("404 page not found\n")},
			[]string{"go"}},
		{"404 with errorCauses not objects", opRevoke, answer{404, jsonCT,
			[]byte(`{"errorCode":"E0000007","errorLink":"E0000007","errorId":"oae1","errorCauses":["x"]}`)}, []string{"python3", "python2", "go"}},
		{"a 307 redirect", opRevoke, answer{307, http.Header{"Location": {"/api/v1/users/u/sessions"}}, nil}, []string{"python3", "dotnet"}},
	}
	for _, tc := range cases {
		for _, md := range models {
			_, err := md.m.outcome(tc.op, tc.a)
			if (err != nil) != slices.Contains(tc.broken, md.name) {
				t.Errorf("%s, %s: error %v", tc.name, md.name, err)
			}
		}
	}

	limited := func(h http.Header) answer { return answer{429, h, errorBody} }
	retries := []struct {
		name   string
		a      answer
		broken []string
	}{
		{"429 with Date and one reset", limited(http.Header{"Date": {date}, "X-Rate-Limit-Reset": {"1796126403"}}), nil},
		{"429 without X-Rate-Limit-Reset", limited(http.Header{"Date": {date}}),
			[]string{"python3", "python2", "java", "dotnet", "go", "node"}},
		{"429 with two X-Rate-Limit-Reset", limited(http.Header{"Date": {date}, "X-Rate-Limit-Reset": {"1796126403", "1796126460"}}),
			[]string{"node"}},
		{"429 without Date", limited(http.Header{"X-Rate-Limit-Reset": {"1796126403"}}),
			[]string{"python3", "python2", "java", "dotnet", "go", "node"}},
		{"429 with a fractional reset", limited(http.Header{"Date": {date}, "X-Rate-Limit-Reset": {"1796126403.5"}}),
			[]string{"java", "dotnet", "go", "node"}},
		{"429 with a Date in UTC+1", limited(http.Header{"Date": {"Tue, 01 Dec 2026 13:00:00 +0100"}, "X-Rate-Limit-Reset": {"1796126403"}}),
			[]string{"python3", "python2", "java", "dotnet", "go", "node"}},
	}
	for _, tc := range retries {
		for _, md := range models {
			plan, err := md.m.retry(tc.a)
			if (err != nil) != slices.Contains(tc.broken, md.name) {
				t.Errorf("%s, %s: error %v", tc.name, md.name, err)
			}
			if err == nil && tc.name == "429 with Date and one reset" && plan.wait != 4*time.Second {
				t.Errorf("%s waits %v, want reset - Date + 1 = 4s", md.name, plan.wait)
			}
		}
	}
}

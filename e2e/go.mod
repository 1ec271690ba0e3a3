module github.com/revokehq/revoke/e2e

go 1.26.0

replace github.com/revokehq/revoke => ../

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/revokehq/revoke v0.0.0-00010101000000-000000000000
)

require (
	github.com/boyter/go-string v1.0.5 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/medama-io/go-useragent v1.2.5 // indirect
)

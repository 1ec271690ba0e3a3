// Package doccheck keeps a Markdown document's Go code honest: every ```go
// block must be a run of lines of a Go file that the module compiles (an
// Example function, an example program), so that a snippet cannot drift
// from the API, and the code of that run must handle every error it is
// handed, so that a reader who copies it copies no silent failure.
//
// A block matches a file when its lines equal consecutive lines of the file
// once the same number of leading tabs is added to each non-empty line (the
// block may be less indented than the code it shows). The error check
// type-checks the file's package and refuses, within the matched lines, an
// error assigned to the blank identifier and a call statement that drops an
// error result. Deferred calls (defer f.Close()) and the fmt printing
// functions are allowed, as every Go reader expects them.
package doccheck

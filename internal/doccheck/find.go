package doccheck

import "strings"

// Match is where a block was found: a file and the 1-based line of the
// block's first line in it.
type Match struct {
	File string
	Line int
}

// Find returns the first place among files (path to lines, without line
// ends) whose consecutive lines are the block's, each non-empty line indented
// by the same number of extra tabs. paths gives the order to search in.
func Find(b Block, paths []string, files map[string][]string) (Match, bool) {
	if len(b.Lines) == 0 {
		return Match{}, false
	}
	for _, path := range paths {
		lines := files[path]
		for start := 0; start+len(b.Lines) <= len(lines); start++ {
			if matchAt(b.Lines, lines[start:start+len(b.Lines)]) {
				return Match{File: path, Line: start + 1}, true
			}
		}
	}
	return Match{}, false
}

func matchAt(block, lines []string) bool {
	extra := -1
	for i, want := range block {
		got := strings.TrimRight(lines[i], " \t\r")
		if want == "" {
			if got != "" {
				return false
			}
			continue
		}
		if extra < 0 {
			extra = len(got) - len(strings.TrimLeft(got, "\t")) - (len(want) - len(strings.TrimLeft(want, "\t")))
			if extra < 0 {
				return false
			}
		}
		if got != strings.Repeat("\t", extra)+want {
			return false
		}
	}
	return true
}

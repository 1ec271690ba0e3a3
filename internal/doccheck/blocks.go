package doccheck

import "strings"

// Block is a fenced code block of a Markdown document.
type Block struct {
	Line  int      // 1-based line, in the document, of the block's first line
	Lines []string // the block's lines, without the fence's indentation
}

// GoBlocks returns the ```go blocks of a Markdown document, top-level or
// indented in a list item, with blank lines trimmed at both ends.
func GoBlocks(markdown string) []Block {
	var blocks []Block
	var cur *Block
	indent := 0
	for i, line := range strings.Split(markdown, "\n") {
		line = strings.TrimRight(line, " \t\r")
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if info, ok := strings.CutPrefix(trimmed, "```"); ok {
				indent = len(line) - len(trimmed)
				if fields := strings.Fields(info); len(fields) > 0 && fields[0] == "go" {
					cur = &Block{Line: i + 2}
				} else {
					cur = &Block{Line: -1} // another language: skipped
				}
			}
			continue
		}
		if trimmed == "```" {
			if cur.Line > 0 {
				blocks = append(blocks, trimBlank(*cur))
			}
			cur = nil
			continue
		}
		// Content loses at most the fence's indentation.
		n := 0
		for n < indent && n < len(line) && line[n] == ' ' {
			n++
		}
		cur.Lines = append(cur.Lines, line[n:])
	}
	return blocks
}

func trimBlank(b Block) Block {
	for len(b.Lines) > 0 && b.Lines[0] == "" {
		b.Lines = b.Lines[1:]
		b.Line++
	}
	for len(b.Lines) > 0 && b.Lines[len(b.Lines)-1] == "" {
		b.Lines = b.Lines[:len(b.Lines)-1]
	}
	return b
}

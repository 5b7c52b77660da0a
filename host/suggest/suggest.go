// Package suggest finds the name a mistyped one was probably meant to be, for
// the "did you mean" of error messages about configuration keys and names.
package suggest

// maxTypo is the edit distance below which a known name counts as the
// likely intent: two slips (a swapped pair, a missing and a doubled letter).
const maxTypo = 3

// Closest returns the known name nearest to name, or "" when none is near
// enough to be a likely typo. Of equally near names the first wins.
func Closest(name string, known []string) string {
	best, bestDist := "", maxTypo
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

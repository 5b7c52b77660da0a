package metrics

// fileLimit: Windows has no small per-process handle limit to share.
func fileLimit() int { return 0 }

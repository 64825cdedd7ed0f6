"""The leaderboard: submission bundles (pack, validate), their verification by replay, and
the ranked board with its static site (DESIGN.md: Leaderboard)."""

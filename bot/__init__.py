"""A Discord bot that answers questions about news articles with cited excerpts."""

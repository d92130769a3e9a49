"""Training the reader (`python -m training.reader`): a tool beside the bot, never imported by it."""

"""One module per conversation state, each owning what that state does."""

"""Keeping an up-to-date picture of a store: staged loading now, file watching next. No Textual."""

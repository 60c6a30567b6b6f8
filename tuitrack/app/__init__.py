"""The Textual application. Everything that imports Textual lives here."""

"""tuitrack's Textual CSS (*.tcss). Installed as the package `tuitrack.styles`."""

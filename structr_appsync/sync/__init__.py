"""The app-versioning half: export a Structr app into git, import git refs back, hooks and watch mode."""

"""The canvas as files: PNG encoding now; backups, timelapse frames and the placement archive in
the object store build on it."""

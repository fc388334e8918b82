"""The processing side: ffprobe/ffmpeg wrappers, RQ jobs and the worker daemon."""

"""The processing side: probing, ffmpeg commands and their runner, RQ jobs and the worker daemon."""

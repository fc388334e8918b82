"""`python -m video_manager`: the same as the `video-manager` console script."""

from video_manager.cli import main

main()

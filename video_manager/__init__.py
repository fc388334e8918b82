"""The `video-manager` command, its configuration and process supervision."""

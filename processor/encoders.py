"""Which encoder re-encodes a source's frames, so that a cut stays what the source was.

A re-encoded trim or merge keeps the source's codec family (H.264 stays H.264, HEVC stays HEVC,
VP9 and AV1 stay themselves), its bit depth and chroma format where the encoder has them, and
everything ffmpeg carries from the decoded frames to the encoder (colour description, HDR
mastering and light-level metadata, the display matrix with -noautorotate). Codecs we have no
encoder for in their family (MPEG-2, MPEG-4 Part 2, ...) become H.264.
"""

from __future__ import annotations

from dataclasses import dataclass

import av

from processor.probe import MediaInfo


@dataclass(frozen=True)
class VideoEncoder:
    """One ffmpeg encoder: its options at our quality, and the pixel formats it takes (checked
    against the shipped ffmpeg by the tests)."""

    name: str
    pixel_formats: tuple[str, ...]  # the first is what a format it lacks becomes
    high_depth_format: str  # what a 10-bit (or deeper) format it lacks becomes

    def pixel_format(self, source_format: str | None) -> str:
        if source_format in self.pixel_formats:
            return str(source_format)
        return self.high_depth_format if _is_high_depth(source_format) else self.pixel_formats[0]


X264 = VideoEncoder(
    "libx264",
    ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv420p10le", "yuv422p10le",
     "yuv444p10le", "gray", "gray10le"),
    "yuv420p10le",
)  # fmt: skip
X265 = VideoEncoder(
    "libx265",
    ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv420p10le", "yuv422p10le",
     "yuv444p10le", "yuv420p12le", "yuv422p12le", "yuv444p12le", "gray", "gray10le", "gray12le"),
    "yuv420p10le",
)  # fmt: skip
VP9 = VideoEncoder(
    "libvpx-vp9",
    ("yuv420p", "yuv422p", "yuv440p", "yuv444p", "yuv420p10le", "yuv422p10le", "yuv440p10le",
     "yuv444p10le", "yuv420p12le", "yuv422p12le", "yuv440p12le", "yuv444p12le"),
    "yuv420p10le",
)  # fmt: skip
SVT_AV1 = VideoEncoder("libsvtav1", ("yuv420p", "yuv420p10le"), "yuv420p10le")
BY_CODEC = {"h264": X264, "hevc": X265, "vp9": VP9, "av1": SVT_AV1}
# VP9's and SVT-AV1's CRF scales are not x264's: these are near-transparent on each.
VP9_CRF = 24
AV1_CRF = 24


def encoder_for(media: MediaInfo) -> VideoEncoder:
    return BY_CODEC.get(media.video_codec, X264)


def video_options(media: MediaInfo, crf: int, preset: str) -> list[str]:
    """`-c:v ...` for frames of `media` (x264's CRF and preset scale the x264 and x265 runs)."""
    encoder = encoder_for(media)
    tuning = {
        "libx264": ["-crf", str(crf), "-preset", preset],
        "libx265": ["-crf", str(crf), "-preset", preset, "-x265-params", "log-level=error", "-tag:v", "hvc1"],
        "libvpx-vp9": ["-crf", str(VP9_CRF), "-b:v", "0", "-deadline", "good", "-cpu-used", "5",
                       "-row-mt", "1"],
        "libsvtav1": ["-crf", str(AV1_CRF), "-preset", "10", "-svtav1-params", "verbosity=0"],
    }[encoder.name]  # fmt: skip
    return ["-c:v", encoder.name, *tuning, "-pix_fmt", encoder.pixel_format(media.pix_fmt)]


def _is_high_depth(pixel_format: str | None) -> bool:
    """More than 8 bits a sample (yuv420p10le, p010le, nv20le, gray12le, ...)."""
    if pixel_format is None:
        return False
    try:
        return av.VideoFormat(pixel_format).components[0].bits > 8
    except ValueError:  # a format this FFmpeg build does not know
        return False

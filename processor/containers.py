"""Which container formats a video may be, and the input options that keep ffmpeg to our bytes.

An upload is attacker-controlled input. ffmpeg picks a demuxer by content, not by name, and
some demuxers read other files or URLs (DASH and HLS manifests, the concat and image2 demuxers,
playlists). So every ffmpeg, ffprobe and PyAV open reads through the `file` protocol only and
with a demuxer from this allow-list; a file that probes as anything else is not a video.
"""

from __future__ import annotations

from dataclasses import dataclass

# demuxer name → the Content-Type we serve the file with
ALLOWED = {
    "mov": "video/mp4",  # mov,mp4,m4a,3gp,3g2,mj2
    "matroska": "video/webm",  # matroska,webm
    "mpegts": "video/mp2t",
    "avi": "video/x-msvideo",
    "flv": "video/x-flv",
    "mpeg": "video/mpeg",
    "asf": "video/x-ms-asf",
    "ogg": "video/ogg",
}
FORMAT_WHITELIST = ",".join(ALLOWED)
PROTOCOL_WHITELIST = "file"
# A source in our own object storage is read through its presigned URL, in bounded range
# requests (REMOTE_READ_OPTIONS, for an input that is itself a URL): a short trim of a long
# video fetches a small part of it.
REMOTE_PROTOCOL_WHITELIST = "file,http,https,tcp,tls"
REMOTE_READ_OPTIONS = ["-initial_request_size", "65536", "-request_size", "1048576"]
OPEN_OPTIONS = {"protocol_whitelist": PROTOCOL_WHITELIST, "format_whitelist": FORMAT_WHITELIST}
REMOTE_OPEN_OPTIONS = {
    **OPEN_OPTIONS,
    "protocol_whitelist": REMOTE_PROTOCOL_WHITELIST,
    "initial_request_size": "65536",
    "request_size": "1048576",
}


def demuxer_of(format_name: str) -> str | None:
    """`mov,mp4,m4a,3gp,3g2,mj2` → `mov`; None when the format is not allowed."""
    names = format_name.split(",")
    return next((name for name in names if name in ALLOWED), None)


def demuxer_for_content_type(content_type: str) -> str | None:
    """The demuxer a stored video was accepted with (its content type says which)."""
    return next((name for name, served_as in ALLOWED.items() if served_as == content_type), None)


def input_options(demuxer: str | None, *, also_allow: str = "", remote: bool = False) -> list[str]:
    """ffmpeg options to put before one `-i`: our bytes only, through an allowed demuxer.

    `also_allow` admits one more demuxer of our own making (`concat` over a list we wrote);
    `remote` admits HTTP(S) for a presigned URL of our own bucket. The demuxer rules hold either
    way, so no manifest or playlist can lead ffmpeg anywhere else.
    """
    formats = f"{also_allow},{FORMAT_WHITELIST}" if also_allow else FORMAT_WHITELIST
    protocols = REMOTE_PROTOCOL_WHITELIST if remote else PROTOCOL_WHITELIST
    options = ["-protocol_whitelist", protocols, "-format_whitelist", formats]
    return [*options, "-f", demuxer] if demuxer else options


@dataclass(frozen=True)
class Muxer:
    """A container a result is written in: ffmpeg's name for it, the file name's suffix, and the
    codec its text subtitles are written in."""

    name: str
    suffix: str
    subtitle_codec: str

    @property
    def demuxer(self) -> str:
        """The allowed demuxer that reads such a result back."""
        return "mov" if self.name in ("mp4", "mov") else self.name

    def options(self) -> list[str]:
        """The index first in MP4 and MOV (a browser plays it before it has all of it)."""
        faststart = ["-movflags", "+faststart"] if self.name in ("mp4", "mov") else []
        return [*faststart, "-f", self.name]


MP4 = Muxer("mp4", ".mp4", "mov_text")
MOV = Muxer("mov", ".mov", "mov_text")
MATROSKA = Muxer("matroska", ".mkv", "srt")
# Subtitle codecs that are text: a cut carries their cues (processor.side_tracks). Picture-based
# ones (DVD, Blu-ray PGS) are left out of results.
TEXT_SUBTITLE_CODECS = frozenset({"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text"})
# What ffmpeg's MP4 muxer holds (checked with the shipped ffmpeg), and what only MOV does.
MP4_VIDEO = frozenset({"h264", "hevc", "av1", "vp9", "mpeg4", "mjpeg"})
MOV_ONLY_VIDEO = frozenset({"prores", "dnxhd", "qtrle", "cfhd"})
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac", "pcm_s16le", "pcm_s24le"})


def muxer_for(video_codec: str, audio_codec: str | None) -> Muxer:
    """MP4 when it holds the streams, else MOV (ProRes, DNxHD), else Matroska, which holds all."""
    audio_fits = audio_codec is None or audio_codec in MP4_AUDIO or audio_codec.startswith("pcm_")
    if video_codec in MP4_VIDEO and (audio_codec is None or audio_codec in MP4_AUDIO):
        return MP4
    if video_codec in MP4_VIDEO | MOV_ONLY_VIDEO and audio_fits:
        return MOV
    return MATROSKA

"""HLS playlists of a ladder: each rung's media playlist is ffmpeg's; what is written here is
measured from the segments ffmpeg wrote (bitrates, the keyframes' byte ranges) and the master
and I-frame playlists built from those measurements (RFC 8216)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from processor import isobmff

AUDIO_CODECS = "mp4a.40.2"  # AAC-LC
AUDIO_GROUP = "audio"


@dataclass(frozen=True)
class Segment:
    uri: str
    duration: float


@dataclass(frozen=True)
class MediaPlaylist:
    init: str | None
    segments: list[Segment]

    @property
    def duration(self) -> float:
        return sum(segment.duration for segment in self.segments)

    @classmethod
    def parse(cls, text: str) -> MediaPlaylist:
        init, segments, duration = None, [], None
        for line in text.splitlines():
            if line.startswith("#EXT-X-MAP:"):
                init = line.split('URI="', 1)[1].split('"', 1)[0]
            elif line.startswith("#EXTINF:"):
                duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
            elif line and not line.startswith("#") and duration is not None:
                segments.append(Segment(line.strip(), duration))
                duration = None
        return cls(init, segments)


@dataclass(frozen=True)
class Measured:
    """A rendition's bits per second over its segments: the largest segment's and the whole's."""

    peak_bps: int
    average_bps: int


def measure(folder: Path, playlist: MediaPlaylist) -> Measured:
    sizes = [(folder / segment.uri).stat().st_size for segment in playlist.segments]
    rates = [
        8 * size / s.duration for size, s in zip(sizes, playlist.segments, strict=True) if s.duration > 0
    ]
    total = playlist.duration
    return Measured(
        peak_bps=math.ceil(max(rates, default=0)),
        average_bps=math.ceil(8 * sum(sizes) / total) if total > 0 else 0,
    )


def iframe_playlist(folder: Path, playlist: MediaPlaylist) -> str:
    """Every segment's first frame (its IDR keyframe) by byte range, for scrubbing."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{math.ceil(max((s.duration for s in playlist.segments), default=1))}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-I-FRAMES-ONLY",
        f'#EXT-X-MAP:URI="{playlist.init}"',
    ]
    for segment in playlist.segments:
        length = isobmff.first_sample_end(folder / segment.uri)
        if length is None:
            raise ValueError(f"segment {segment.uri} has no readable first sample")
        lines += [f"#EXTINF:{segment.duration:.6f},", f"#EXT-X-BYTERANGE:{length}@0", segment.uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


@dataclass(frozen=True)
class Variant:
    """One video rung as the master playlist lists it."""

    playlist: str
    iframes: str
    width: int
    height: int
    frame_rate: float
    codecs: str  # the video's (avc1.PPCCLL)
    peak_bps: int
    average_bps: int


@dataclass(frozen=True)
class AudioRendition:
    playlist: str
    peak_bps: int
    average_bps: int


def master_playlist(variants: list[Variant], audio: AudioRendition | None) -> str:
    """Lowest rung first: players that do not measure start on the first listed."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if audio is not None:
        lines.append(
            f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Audio",DEFAULT=YES,AUTOSELECT=YES,'
            f'CHANNELS="2",URI="{audio.playlist}"'
        )
    for variant in sorted(variants, key=lambda v: v.average_bps):
        peak = variant.peak_bps + (audio.peak_bps if audio else 0)
        average = variant.average_bps + (audio.average_bps if audio else 0)
        codecs = f"{variant.codecs},{AUDIO_CODECS}" if audio else variant.codecs
        group = f',AUDIO="{AUDIO_GROUP}"' if audio else ""
        lines += [
            f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},"
            f'RESOLUTION={variant.width}x{variant.height},CODECS="{codecs}",'
            f"FRAME-RATE={variant.frame_rate:.3f}{group}",
            variant.playlist,
        ]
    for variant in sorted(variants, key=lambda v: v.average_bps):
        lines.append(
            f"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={variant.peak_bps},RESOLUTION={variant.width}x{variant.height},"
            f'CODECS="{variant.codecs}",URI="{variant.iframes}"'
        )
    return "\n".join([*lines, ""])

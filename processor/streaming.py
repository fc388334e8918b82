"""ffmpeg commands for playback renditions: HLS (fMP4 segments) and the `+faststart` copy.

HLS is cut on keyframes by stream copy when browsers can play the streams as they are (H.264
8-bit 4:2:0, AAC or no audio); anything else is re-encoded to H.264 8-bit 4:2:0, an HDR source
tone-mapped to SDR. ffmpeg writes an EVENT playlist
that grows as segments are finished (each written to a temp name, then renamed), so a player
can start before the whole source has been read.
"""

from __future__ import annotations

from pathlib import Path

from processor import containers
from processor.ffmpeg import AAC, Encoding, Source, command_start

PLAYLIST = "hls.m3u8"
INIT_SEGMENT = "hls-init.mp4"
SEGMENT_PATTERN = "hls-%05d.m4s"
SEGMENT_S = 6
END_TAG = "#EXT-X-ENDLIST"


def copyable_for_hls(source: Source) -> bool:
    media = source.media
    return (
        media.video_codec == "h264"
        and media.pix_fmt in ("yuv420p", "yuvj420p")
        and media.audio_codec in (None, "aac")
    )


# HDR (PQ or HLG, BT.2020) to SDR BT.709 by real tone mapping: to linear light, to BT.709
# primaries, Hable's curve, back to BT.709's transfer, 8-bit 4:2:0. Re-tagging an HDR picture as
# SDR (or keeping HDR tags on 8-bit pixels) shows it washed out or too dark in browsers.
TONE_MAP_TO_SDR = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
    "zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
)
SDR_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]


def hls(ffmpeg: str, source: Source, folder: Path, encoding: Encoding) -> list[str]:
    if copyable_for_hls(source):
        codecs = ["-c", "copy"]
    else:
        picture = ["-vf", TONE_MAP_TO_SDR, *SDR_TAGS] if source.media.hdr else ["-pix_fmt", "yuv420p"]
        codecs = [
            "-c:v", "libx264", "-preset", encoding.preset, "-crf", str(encoding.crf), *picture,
            "-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_S})", *AAC,
        ]  # fmt: skip
    return [
        *command_start(ffmpeg), *source.input(), "-map", "0:v:0", "-map", "0:a:0?", *codecs,
        "-f", "hls", "-hls_time", str(SEGMENT_S), "-hls_playlist_type", "event",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", INIT_SEGMENT,
        "-hls_segment_filename", str(folder / SEGMENT_PATTERN),
        "-hls_flags", "temp_file+independent_segments", str(folder / PLAYLIST),
    ]  # fmt: skip


def faststart(ffmpeg: str, source: Source, output: Path) -> list[str]:
    """The same streams, copied, with the index (`moov`) moved to the front, in MP4, or in MOV
    where MP4 cannot hold them (ProRes from a camera)."""
    muxer = containers.muxer_for(source.media.video_codec, source.media.audio_codec)
    return [
        *command_start(ffmpeg), *source.input(), "-map", "0:v", "-map", "0:a?", "-c", "copy",
        *muxer.options(), str(output),
    ]  # fmt: skip

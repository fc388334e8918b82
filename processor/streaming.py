"""ffmpeg commands for playback renditions: the adaptive ladder's pieces (processor.ladder
plans them, processor.ladder_jobs runs them) and the `+faststart` copy.

Every rung is H.264 8-bit 4:2:0 in fMP4 segments; an HDR source is tone-mapped to SDR. Encoded
rungs have keyframes only where the plan's segments start (closed GOPs, IDR), so the muxer cuts
every rung on the same source frames; the audio is its own rendition, AAC-LC stereo, encoded
once from the whole source.
"""

from __future__ import annotations

from pathlib import Path

from processor import containers
from processor.ffmpeg import Source, command_start
from processor.ladder import LADDER_CRF, Chunk, Rung

AUDIO_BITRATE = "128k"
MIN_FRAME_FRACTION = 0.25  # forced keyframe times are this much of a frame early: never a frame late


# HDR (PQ or HLG, BT.2020) to SDR BT.709 by real tone mapping: to linear light, to BT.709
# primaries, Hable's curve, back to BT.709's transfer, 8-bit 4:2:0. Re-tagging an HDR picture as
# SDR (or keeping HDR tags on 8-bit pixels) shows it washed out or too dark in browsers.
TONE_MAP_TO_SDR = (
    "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
    "zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
)
SDR_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]


def rung_names(height: int) -> tuple[str, str, str]:
    """(media playlist, init segment, segment pattern) of a rung (height 0: the audio)."""
    key = height or "audio"
    return f"hls-{key}.m3u8", f"hls-{key}-init.mp4", f"hls-{key}-%05d.m4s"


def iframes_name(height: int) -> str:
    return f"hls-{height}-iframes.m3u8"


def mp4_name(height: int) -> str:
    return f"rendition-{height}.mp4"


def _hls_output(folder: Path, height: int, segment_s: float) -> list[str]:
    playlist, init, pattern = rung_names(height)
    return [
        "-f", "hls", "-hls_time", f"{segment_s:g}", "-hls_playlist_type", "vod",
        "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", init,
        "-hls_segment_filename", str(folder / pattern), "-hls_flags", "independent_segments",
        str(folder / playlist),
    ]  # fmt: skip


def copied_rung(ffmpeg: str, source: Source, folder: Path, height: int, segment_s: float) -> list[str]:
    """The source's own video, cut at its keyframes by the plan's rule."""
    return [
        *command_start(ffmpeg), *source.input(), "-map", "0:v:0", "-c", "copy",
        *_hls_output(folder, height, segment_s),
    ]  # fmt: skip


def encoder_options(encoder: str, rung: Rung, threads: int) -> list[str]:
    """Capped quality, IDR keyframes only where forced (closed GOPs: segments decode alone)."""
    cap = f"{rung.max_kbps}k"
    buffer = f"{2 * rung.max_kbps}k"
    if encoder == "h264_nvenc":
        codec = ["-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr", "-cq", str(LADDER_CRF), "-b:v", "0",
                 "-maxrate", cap, "-bufsize", buffer, "-forced-idr", "1", "-g", "100000",
                 "-strict_gop", "1"]  # fmt: skip
    else:
        codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(LADDER_CRF), "-maxrate", cap,
                 "-bufsize", buffer, "-forced-idr", "1", "-g", "100000", "-sc_threshold", "0"]  # fmt: skip
        if threads:
            codec += ["-threads", str(threads)]
    return [*codec, "-pix_fmt", "yuv420p", "-profile:v", "high"]


def encoded_chunk(
    ffmpeg: str, source: Source, chunk: Chunk, rungs: list[Rung], outputs: list[Path], *, origin: float,
    frame_s: float, hdr: bool, encoder: str, threads: int,
) -> list[str]:  # fmt: skip
    """One chunk of one or more rungs from one decode: exactly the chunk's frames (sought to its
    first, by time from the file's start; floored to the microsecond so that frame is never
    skipped), at their own times, split to each rung's size."""
    seek = int((origin + chunk.start) * 1_000_000) / 1_000_000
    picture = f"{TONE_MAP_TO_SDR}," if hdr else ""
    labels = "".join(f"[s{i}]" for i in range(len(rungs)))
    graph = f"[0:v:0]{picture}split={len(rungs)}{labels};" + ";".join(
        f"[s{i}]scale={rung.width}:{rung.height}[v{i}]" for i, rung in enumerate(rungs)
    )
    early = frame_s * MIN_FRAME_FRACTION
    keyframes = ",".join(f"{max(0.0, at - early):.6f}" for at in chunk.keyframes_at)
    limits = ["-threads", str(threads), "-filter_threads", str(threads)] if threads else []
    command = [*command_start(ffmpeg), *limits, "-ss", f"{seek:.6f}", *source.input()]
    command += ["-filter_complex", graph]
    for i, (rung, output) in enumerate(zip(rungs, outputs, strict=True)):
        command += [
            "-map", f"[v{i}]", "-frames:v", str(chunk.count), "-fps_mode", "passthrough",
            *(SDR_TAGS if hdr else []), *encoder_options(encoder, rung, threads),
            "-force_key_frames", keyframes, "-video_track_timescale", "90000", "-f", "mp4", str(output),
        ]  # fmt: skip
    return command


def whole_audio(ffmpeg: str, source: Source, output: Path) -> list[str]:
    return [
        *command_start(ffmpeg), *source.input(), "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2", "-ar", "48000", "-f", "mp4", str(output),
    ]  # fmt: skip


def audio_segments(ffmpeg: str, audio: Path, folder: Path, segment_s: float) -> list[str]:
    return [*command_start(ffmpeg), "-i", str(audio), "-map", "0:a", "-c", "copy",
            *_hls_output(folder, 0, segment_s)]  # fmt: skip


def concat_list(chunks: list[tuple[Path, float]]) -> str:
    """The concat demuxer's list: each chunk with its exact span, so the next starts where the
    source's next frame does (not where the chunk's last frame's guessed duration ends)."""
    return "".join(f"file '{path}'\nduration {span:.6f}\n" for path, span in chunks)


def stitched_chunks(chunk_list: Path, origin: float) -> list[str]:
    """The chunks joined by copy as one input, the first frame where the source has it on the
    clock the audio keeps (`origin` from the file's start), so the rung plays in sync with it."""
    return ["-itsoffset", f"{origin:.6f}", "-f", "concat", "-safe", "0", "-i", str(chunk_list)]


def stitched_rung(
    ffmpeg: str, chunk_list: Path, origin: float, folder: Path, height: int, segment_s: float
) -> list[str]:
    """The chunks cut at their keyframes (half the segment length, so every keyframe starts a
    segment); timestamps as they are, never moved to make them start at 0."""
    return [
        *command_start(ffmpeg), *stitched_chunks(chunk_list, origin), "-map", "0:v", "-c", "copy",
        "-avoid_negative_ts", "disabled", *_hls_output(folder, height, segment_s / 2),
    ]  # fmt: skip


def mp4_rendition(ffmpeg: str, video: list[str], audio: Path | None, output: Path) -> list[str]:
    """A rung and the audio in one faststart MP4, by copy. `video` is the rung's input
    arguments (the chunks' concat list, or the source)."""
    audio_input = ["-i", str(audio)] if audio else []
    audio_map = ["-map", "1:a"] if audio else []
    return [
        *command_start(ffmpeg), *video, *audio_input, "-map", "0:v:0", *audio_map, "-c", "copy",
        "-avoid_negative_ts", "disabled", "-movflags", "+faststart", "-f", "mp4", str(output),
    ]  # fmt: skip


def faststart(ffmpeg: str, source: Source, output: Path) -> list[str]:
    """The same streams, copied, with the index (`moov`) moved to the front, in MP4, or in MOV
    where MP4 cannot hold them (ProRes from a camera)."""
    muxer = containers.muxer_for(source.media.video_codec, source.media.audio_codec)
    return [
        *command_start(ffmpeg), *source.input(), "-map", "0:v", "-map", "0:a?", "-c", "copy",
        *muxer.options(), str(output),
    ]  # fmt: skip

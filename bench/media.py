"""Media processing cost: `python -m bench.media [--runs 3] [--out results.json]`.

Makes a five-minute speech-like voice note (Opus in WebM, as Chromium records it) and a
photo-sized noisy JPEG just under the 10 MB upload limit, then runs each through the
function the upload path calls (`audio.processing.voice_note_transcode`,
`chat.files.file_clean`), every run in a fresh child process so imports, caches and
allocator state from one run never flatter the next. Reports wall time and peak resident
memory growth: the child's peak RSS during the call minus its RSS just before it.
"""

import argparse
import importlib
import io
import json
import multiprocessing
import os
import platform
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

VOICE_NOTE_SECONDS = 300
IMAGE_LIMIT_BYTES = 10 * 1024 * 1024  # settings.FILE_UPLOAD_MAX_BYTES
# Targets set for the upload paths; None where none was set. Memory growth is the one
# target both share.
TARGETS = {
    "voice_note_transcode": {"wall_s": 3.0, "peak_rss_growth_mb": 100.0},
    "file_clean": {"wall_s": None, "peak_rss_growth_mb": 100.0},
}


@dataclass(frozen=True)
class Job:
    name: str
    function: str  # "module:function"
    source: str
    kwargs: dict
    description: str


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_growth_mb: float
    output_bytes: int


# --- inputs ------------------------------------------------------------------------------


def voice_note_make(directory: Path, seconds: float = VOICE_NOTE_SECONDS) -> Path:
    from tests.samples.audio import speech_like_file

    return speech_like_file(directory, seconds=seconds, container="webm")


def image_make(directory: Path, limit_bytes: int = IMAGE_LIMIT_BYTES) -> Path:
    """A 4:3 JPEG of a gradient under heavy noise, sized to land just under `limit_bytes`.

    Noise defeats JPEG's compression, so the file is as large as a photo can be for its
    pixel count; the gradient keeps it from being pure noise, which no camera makes.
    """
    from PIL import Image

    rng = np.random.default_rng(3)
    width, best = 3_000, b""
    # The size grows with the pixel count: a few rescalings home in on 95-100 % of the limit.
    for _ in range(8):
        height = width * 3 // 4
        ramp = np.linspace(0, 160, width, dtype=np.float32)[None, :, None]
        noise = rng.normal(0, 40, (height, width, 3)).astype(np.float32)
        pixels = np.clip(ramp + 48 + noise, 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=92)
        size = buffer.tell()
        if len(best) < size <= limit_bytes:
            best = buffer.getvalue()
        if 0.95 * limit_bytes <= size <= limit_bytes:
            break
        width = int(width * (0.975 * limit_bytes / size) ** 0.5)
    path = directory / "photo.jpg"
    path.write_bytes(best)
    return path


def file_clean_job(directory: Path) -> Job | None:
    """The image case; None until `chat.files.file_clean` exists in this checkout."""
    try:
        importlib.import_module("chat.files")
    except ImportError:
        return None
    from PIL import Image

    image = image_make(directory)
    with Image.open(image) as opened:
        description = f"{opened.width}x{opened.height} noisy JPEG"
    return Job(
        "file_clean",
        "chat.files:file_clean",
        str(image),
        {"original_name": image.name},
        description,
    )


# --- measuring, in the child ---------------------------------------------------------------


def _rss_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _peak_reset() -> bool:
    """Set the kernel's peak-RSS mark (VmHWM) back to the current RSS (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _child(job: Job, connection) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "samia_chat.settings")
    import django

    django.setup()
    module_name, function_name = job.function.split(":")
    function = getattr(importlib.import_module(module_name), function_name)

    if _peak_reset():
        baseline_kb = _rss_kb("VmRSS") or 0
    else:
        # Without the reset, the peak so far (imports included) is the only baseline:
        # growth then counts only what the call added above it, an underestimate.
        baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started, cpu_started = time.perf_counter(), time.process_time()
    result = function(Path(job.source), **job.kwargs)
    wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    peak_kb = _rss_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    output_bytes = result.size_bytes
    result.path.unlink(missing_ok=True)
    connection.send(Run(wall_s, cpu_s, (peak_kb - baseline_kb) / 1024, output_bytes))
    connection.close()


def run_in_child(job: Job) -> Run:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(job, sender))
    process.start()
    sender.close()
    try:
        run = receiver.recv()
    except EOFError as error:
        raise RuntimeError(f"{job.name} failed in the child process") from error
    finally:
        process.join()
    return run


# --- reporting ---------------------------------------------------------------------------


def summarise(job: Job, runs: list[Run]) -> dict:
    targets = TARGETS[job.name]
    wall = statistics.median(run.wall_s for run in runs)
    growth = max(run.peak_rss_growth_mb for run in runs)
    return {
        "job": job.name,
        "input": job.description,
        "input_bytes": Path(job.source).stat().st_size,
        "output_bytes": runs[-1].output_bytes,
        "wall_s_median": round(wall, 3),
        # The fastest run is the best estimate of the cost on an otherwise idle machine.
        "wall_s_min": round(min(run.wall_s for run in runs), 3),
        "wall_s_runs": [round(run.wall_s, 3) for run in runs],
        # CPU time of the child: what the work costs when other processes share the cores.
        "cpu_s_median": round(statistics.median(run.cpu_s for run in runs), 3),
        "peak_rss_growth_mb_max": round(growth, 1),
        "peak_rss_growth_mb_runs": [round(run.peak_rss_growth_mb, 1) for run in runs],
        "targets": targets,
        "meets_targets": (targets["wall_s"] is None or wall <= targets["wall_s"])
        and growth <= targets["peak_rss_growth_mb"],
    }


def table(rows: list[dict]) -> str:
    lines = [
        f"{'job':<22} {'input':>9} {'wall (median)':>14} {'(min)':>7} {'target':>7} {'cpu':>7} "
        f"{'peak RSS growth':>16} {'target':>7}  ok",
    ]
    for row in rows:
        targets = row["targets"]
        wall_target = f"{targets['wall_s']:.1f} s" if targets["wall_s"] else "-"
        lines.append(
            f"{row['job']:<22} {row['input_bytes'] / 2**20:>6.1f}MiB "
            f"{row['wall_s_median']:>12.2f} s {row['wall_s_min']:>5.2f} s {wall_target:>7} "
            f"{row['cpu_s_median']:>5.2f} s "
            f"{row['peak_rss_growth_mb_max']:>12.1f} MiB {targets['peak_rss_growth_mb']:>3.0f} MiB"
            f"  {'yes' if row['meets_targets'] else 'NO'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh child processes per job")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="bench-media-") as scratch:
        directory = Path(scratch)
        print(f"making a {VOICE_NOTE_SECONDS} s voice note and a ~10 MB image ...", flush=True)
        jobs = [
            Job(
                "voice_note_transcode",
                "audio.processing:voice_note_transcode",
                str(voice_note_make(directory)),
                {},
                f"{VOICE_NOTE_SECONDS} s speech-like Opus in WebM",
            )
        ]
        image_job = file_clean_job(directory)
        if image_job is None:
            print("chat.files is missing: skipping the image.")
        else:
            jobs.append(image_job)
        rows = []
        for job in jobs:
            runs = [run_in_child(job) for _ in range(args.runs)]
            rows.append(summarise(job, runs))

    print(table(rows))
    if args.out:
        report = {
            "started_at": datetime.now(UTC).isoformat(),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                # Other work on the machine shows in wall time, not in CPU time.
                "load_average_1m_at_start": load_at_start,
            },
            "versions": _versions(),
            "runs_per_job": args.runs,
            "results": rows,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


def _versions() -> dict:
    import av
    import PIL

    return {"av": av.__version__, "ffmpeg": av.ffmpeg_version_info, "pillow": PIL.__version__}


if __name__ == "__main__":
    main()

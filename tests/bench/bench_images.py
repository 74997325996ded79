"""Images (issue 14): what ``pressline.images.process`` costs and what a phone then downloads.

1. A 4,000 x 3,000 phone photo (made here: gradients, shapes, noise, blurred, then JPEG at
   quality 90 with GPS EXIF: about 1.4 MB, smoother than a real photo's 3 to 5 MB): ``process`` end to end, median of
   ``--runs`` with its CPU time beside the wall time (AVIF encodes on two threads: CPU above
   wall), then each step on its own: the decode (JPEG ``draft``: 2,000 x 1,500; and in full,
   for comparison), each resize, each format's encode at each width. Bytes of each variant
   against the original's.
2. A 375-px phone: the srcset candidate a browser takes is the narrowest at least 375 x DPR
   wide (DPR 2: 750 -> the 960 variant; DPR 1: 480), else the widest there is; from
   ``<picture>`` it takes AVIF (WebP where AVIF is unsupported). For the example posts'
   images (``examples/posts/*``) and the photo: original bytes against the chosen variant's.
   Target (issue 14): at least 50% less for the example posts' images. Exit 1 if missed.
3. Memory: the peak RSS (VmHWM) of a fresh process running ``process`` once on the worst
   inputs the limits allow (40 MP as a PNG with alpha, a 16-bit grey PNG, a progressive
   JPEG), minus its peak after the imports and reading the file.
4. Pillow's layer: ``pip install --target`` for Lambda (CPython 3.12, x86_64, wheels only, the
   manylinux platforms shared/Makefile allows): its unzipped size, and the CPU time of ``from
   PIL import Image, ImageCms, ImageOps`` timed inside a fresh Python 3.12 on that directory
   (interpreter start-up excluded; its own bytecode cache, filled by a first run; median of
   ``--runs``); beside it, one run of ``import pressline.images`` in the venv.

Run: ``make bench`` or ``.venv/bin/python tests/bench/bench_images.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "shared"))
sys.path.insert(0, str(ROOT / "tests" / "corpus" / "images"))

import make_images  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

from pressline.images import ImageResult, Limits, process  # noqa: E402
from pressline.images.variants import _SAVE_OPTIONS  # noqa: E402  (the settings process uses)

TARGET_SAVING = 0.5
PHONE_WIDTH = 375
PILLOW = "pillow==13.0.0"
# As shared/Makefile: Lambda's Python 3.12 runs on Amazon Linux 2023 (glibc 2.34).
PLATFORMS = [
    argument
    for tag in ["manylinux2014_x86_64", *(f"manylinux_2_{minor}_x86_64" for minor in range(17, 35))]
    for argument in ("--platform", tag)
]


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``action``."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def phone_photo(size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A photo-like JPEG: smooth sky and ground, many shapes, sensor noise, a slight blur."""
    width, height = size
    sky = Image.linear_gradient("L").resize(size).convert("RGB")
    image = Image.merge("RGB", [sky.getchannel(0).point(lambda v: 90 + v // 3), sky.getchannel(1), sky.getchannel(2)])
    draw = ImageDraw.Draw(image)
    shapes = random.Random(14)
    for _ in range(2500):
        x, y, r = shapes.randrange(width), shapes.randrange(height), shapes.randrange(4, 120)
        colour = (shapes.randrange(256), shapes.randrange(256), shapes.randrange(256))
        draw.ellipse((x, y, x + r, y + r // 2 + 3), fill=colour)
    noise = make_images.noise(size)  # the same every run
    image = Image.blend(image, noise, 0.12).filter(ImageFilter.GaussianBlur(1.2))
    return make_images.encoded(image, "JPEG", quality=90, exif=make_images.gps_exif())


def chosen(result: ImageResult, dpr: int, format: str) -> int:
    """Bytes of the variant a ``PHONE_WIDTH``-px phone at ``dpr`` takes from the srcset of ``format``."""
    candidates = [variant for variant in result.variants if variant.format == format]
    wide_enough = [variant for variant in candidates if variant.width >= PHONE_WIDTH * dpr]
    return len((wide_enough[0] if wide_enough else candidates[-1]).data)


def photo_section(runs: int, original: bytes) -> ImageResult:
    result = process(original, "phone-photo.jpg")
    wall, cpu = timed(lambda: process(original, "phone-photo.jpg"), runs)
    print(f"1. a 4,000 x 3,000 phone photo, JPEG {len(original):,} bytes; median of {runs}")
    print(f"   process(): {wall:.2f} s wall, {cpu:.2f} s CPU, {len(result.variants)} variants")
    source = Image.open(io.BytesIO(original))
    source.draft(None, (1600, 1200))
    drafted = source.size

    def decode(draft: bool) -> Image.Image:
        image = Image.open(io.BytesIO(original))
        if draft:
            image.draft(None, (1600, 1200))
        image.load()
        return image

    for draft in (True, False):
        wall, cpu = timed(lambda draft=draft: decode(draft), runs)
        label = f"decode at {drafted[0]:,} x {drafted[1]:,} (draft)" if draft else "decode in full (for comparison)"
        print(f"   {label}: {wall * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU")
    decoded = decode(True)
    current = decoded
    print(f"   {'width':>6} {'format':>6} {'encode ms':>10} {'CPU ms':>7} {'bytes':>9} {'of original':>11}")
    for width in (1600, 960, 480):
        size = (width, round(width * 3 / 4))
        resize_wall, resize_cpu = timed(
            lambda current=current, size=size: current.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0), runs
        )
        current = current.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        print(f"   {width:>6} resize {resize_wall * 1000:>10.0f} {resize_cpu * 1000:>7.0f}")
        for format in ("avif", "webp", "jpeg"):
            wall, cpu = timed(lambda current=current, format=format: encode(current, format), runs)
            size_bytes = len(next(v.data for v in result.variants if v.width == width and v.format == format))
            print(
                f"   {width:>6} {format:>6} {wall * 1000:>10.0f} {cpu * 1000:>7.0f} {size_bytes:>9,}"
                f" {size_bytes / len(original):>10.1%}"
            )
    return result


def encode(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format.upper(), **_SAVE_OPTIONS[format])  # type: ignore[index]
    return buffer.getvalue()


def phone_section(photo: ImageResult, photo_bytes: int) -> bool:
    print(f"2. what a {PHONE_WIDTH}-px phone downloads (AVIF from <picture>; WebP where AVIF is unsupported)")
    total_original = total_avif = total_webp = 0
    images = sorted(
        path
        for path in (ROOT / "examples" / "posts").iterdir()
        if path.suffix.lower() in (".png", ".jpg", ".jpeg", ".gif", ".webp")
    )
    rows: list[tuple[str, int, ImageResult]] = [
        (path.name, path.stat().st_size, process(path.read_bytes(), path.name)) for path in images
    ]
    for name, size, result in rows:
        for dpr in (2, 1):
            avif, webp = chosen(result, dpr, "avif"), chosen(result, dpr, "webp")
            print(
                f"   {name} ({result.width} x {result.height}), DPR {dpr}: {size:,} -> AVIF {avif:,}"
                f" ({1 - avif / size:.0%} less), WebP {webp:,} ({1 - webp / size:.0%} less)"
            )
        total_original += size
        total_avif += chosen(result, 2, "avif")
        total_webp += chosen(result, 2, "webp")
    for dpr in (2, 1):
        avif, webp = chosen(photo, dpr, "avif"), chosen(photo, dpr, "webp")
        print(
            f"   the phone photo, DPR {dpr}: {photo_bytes:,} -> AVIF {avif:,} ({1 - avif / photo_bytes:.1%} less),"
            f" WebP {webp:,} ({1 - webp / photo_bytes:.1%} less)"
        )
    if not rows:
        print("   no images in examples/posts")
        return True
    saving = 1 - max(total_avif, total_webp) / total_original
    print(
        f"   example posts' images at DPR 2: {total_original:,} -> {total_avif:,} (AVIF), {total_webp:,} (WebP): "
        f"{saving:.0%} less at worst; target >= {TARGET_SAVING:.0%}"
    )
    return saving >= TARGET_SAVING


def worst_png_with_alpha() -> bytes:
    image = Image.linear_gradient("L").resize((8000, 5000)).convert("RGBA")
    image.putalpha(Image.radial_gradient("L").resize((8000, 5000)))
    return make_images.encoded(image, "PNG")


def worst_jpeg() -> bytes:
    # Progressive: libjpeg then holds every DCT coefficient of the whole image, whatever the draft scale.
    image = Image.linear_gradient("L").resize((8000, 5000)).convert("RGB")
    return make_images.encoded(image, "JPEG", quality=80, progressive=True)


WORST: dict[str, Callable[[], bytes]] = {
    "PNG with alpha, 8,000 x 5,000": worst_png_with_alpha,
    "16-bit grey PNG, 8,000 x 5,000": lambda: make_images.sixteen_bit_png(0, 1, 8000, 5000),
    "progressive JPEG, 8,000 x 5,000 (decoded at 2,000 x 1,250)": worst_jpeg,
}


def high_water_kb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the parent at fork)."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1])


def peak(path: str) -> None:
    """In a fresh process: ``process`` the file once, print [peak RSS before, peak RSS after] in KB."""
    data = Path(path).read_bytes()
    before = high_water_kb()
    result = process(data, "worst")
    print(json.dumps([before, high_water_kb(), result.rejected]))


def memory_section() -> None:
    limits = Limits()
    print(f"3. peak memory on the worst allowed inputs ({limits.max_pixels:,} pixels; a fresh process each)")
    with tempfile.TemporaryDirectory(prefix="bench-images-worst-") as workdir:
        for label, make in WORST.items():
            path = Path(workdir) / "worst"
            data = make()
            path.write_bytes(data)
            completed = subprocess.run(
                [sys.executable, __file__, "--peak", str(path)],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            if completed.returncode != 0:
                print(f"   {label}: failed: {completed.stderr.strip().splitlines()[-1:]}")
                continue
            before, after, rejected = json.loads(completed.stdout.strip().splitlines()[-1])
            outcome = "variants made" if rejected is None else f"refused: {rejected}"
            print(
                f"   {label} ({len(data):,} bytes): peak RSS {after / 1024:.0f} MB, {(after - before) / 1024:.0f} MB "
                f"above the process after its imports and reading the file; {outcome}"
            )


def layer_section(runs: int) -> None:
    print(f"4. a layer holding only {PILLOW} (Lambda: manylinux x86_64 wheels up to glibc 2.34, CPython 3.12)")
    with tempfile.TemporaryDirectory(prefix="bench-images-layer-") as workdir:
        target = Path(workdir) / "python"
        installed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-compile",
                "--target",
                str(target),
                *PLATFORMS,
                "--only-binary=:all:",
                "--python-version",
                "3.12",
                "--implementation",
                "cp",
                PILLOW,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if installed.returncode != 0:
            print(f"   pip install failed: {installed.stderr.strip().splitlines()[-1:]}")
            return
        files = [path for path in target.rglob("*") if path.is_file()]
        total = sum(path.stat().st_size for path in files)
        libs = sum(path.stat().st_size for path in files if ".libs" in str(path.parent) or path.suffix == ".so")
        print(
            f"   unzipped {total / 1e6:.1f} MB in {len(files)} files ({libs / 1e6:.1f} MB of it shared libraries:"
            " libavif, libwebp, libjpeg, ...), of Lambda's 250 MB for code and layers together"
        )
        try:
            from bench_coldstart import python312

            python = python312()
        except Exception as error:  # the bench goes on without the import figure
            python, why = None, str(error)
        if python is None:
            print(f"   import time: no Python 3.12 ({why if 'why' in locals() else 'pyenv or PATH'})")
        else:
            probe = "import time; t = time.process_time(); {0}; print(time.process_time() - t)"
            env = {
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(target),
                "PYTHONPYCACHEPREFIX": str(Path(workdir) / "pycache"),
            }

            def cpu(statement: str) -> float:
                samples = []
                for _ in range(runs + 1):  # the first run compiles the bytecode
                    out = subprocess.run(
                        [python, "-c", probe.format(statement)], capture_output=True, text=True, env=env, check=True
                    )
                    samples.append(float(out.stdout.strip()))
                return statistics.median(samples[1:])

            pil = cpu("from PIL import Image, ImageCms, ImageOps")
            avif = cpu(
                "from PIL import Image, ImageCms, ImageOps, AvifImagePlugin, WebPImagePlugin, JpegImagePlugin,"
                " PngImagePlugin"
            )
            print(
                f"   from PIL import Image, ImageCms, ImageOps: {pil * 1000:.0f} ms CPU (Python 3.12, median of"
                f" {runs}); "
                f"with the AVIF, WebP, JPEG and PNG plugins loaded: {avif * 1000:.0f} ms"
            )
    venv = subprocess.run(
        [
            sys.executable,
            "-c",
            "import time; t = time.process_time(); import pressline.images; print(time.process_time() - t)",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "shared")},
        check=True,
    )
    print(
        f"   import pressline.images (Pillow and pressline.posts with pydantic) in the venv:"
        f" {float(venv.stdout) * 1000:.0f} ms CPU (one run)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--peak", help=argparse.SUPPRESS)  # the memory probe's own process
    args = parser.parse_args()
    if args.peak:
        peak(args.peak)
        return 0
    print(f"images: pressline.images.process; {load_average()}")
    original = phone_photo()
    photo = photo_section(args.runs, original)
    met = phone_section(photo, len(original))
    memory_section()
    layer_section(args.runs)
    print(f"done; {load_average()}")
    if not met:
        print(f"   missed: the example posts' images fall by less than {TARGET_SAVING:.0%}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Make the README's pictures from a fresh offline demo (``scripts/readme_picture`` runs this).

``reelforge demo --serve`` renders the bundled storyboard into a temporary data directory and
serves its run page; this writes the demo's contact sheet and a still of that page, each shrunk
and reduced to a palette so the committed PNGs stay small, then stops the demo with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

from PIL import Image
from playwright.async_api import ViewportSize, async_playwright

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTACT_SHEET = "demo-contact-sheet.png"
RUN_PAGE = "run-page.png"
# As in tests/fixtures/browser.py: what Debian's Chromium needs here (headless, root, offline).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
# Wide enough to read on a README's half column, small enough to commit (well under 300 KB).
WIDTH = 960
COLOURS = 256
RENDER_S = 600.0
PAGE_S = 60.0
STOP_S = 60.0


class PictureError(RuntimeError):
    """The demo or the browser did not give what the pictures need."""


def make_pictures(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reelforge-picture-") as scratch:
        workdir = Path(scratch)
        data_dir = workdir / "reelforge-data"
        page_still = workdir / RUN_PAGE
        stderr_path = workdir / "demo-stderr.txt"
        try:
            with stderr_path.open("wb") as stderr:
                asyncio.run(_serve_and_photograph(workdir, data_dir, page_still, stderr))
            sheet = data_dir / "demo" / "lighthouse" / "contact_sheet.png"
            return [_shrink(sheet, out / CONTACT_SHEET), _shrink(page_still, out / RUN_PAGE)]
        except (PictureError, TimeoutError) as exc:
            log = stderr_path.read_text(errors="replace")[-4000:]
            raise PictureError(f"{exc}\n--- the demo's stderr (end) ---\n{log}") from exc


async def _serve_and_photograph(
    workdir: Path, data_dir: Path, page_still: Path, stderr: BinaryIO
) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")}
    environment["REELFORGE_DATA_DIR"] = str(data_dir)
    demo = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reelforge",
        "demo",
        "--serve",
        "--port",
        str(_free_port()),
        cwd=workdir,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
    try:
        url = await asyncio.wait_for(_run_page_url(demo), RENDER_S)
        await asyncio.wait_for(_photograph(url, page_still), PAGE_S)
    finally:
        await _stop(demo)


async def _run_page_url(demo: asyncio.subprocess.Process) -> str:
    assert demo.stdout is not None
    while line := (await demo.stdout.readline()).decode(errors="replace"):
        if line.startswith("Run page:"):
            return line.removeprefix("Run page:").strip()
    raise PictureError(f"the demo exited ({await demo.wait()}) before printing its run page")


async def _photograph(url: str, path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise PictureError("Chromium is not installed: apt-get install chromium")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = await browser.new_page(viewport=VIEWPORT)
            await page.goto(url, wait_until="networkidle")
            images = page.locator("img")
            await images.first.wait_for()
            # Every key frame decoded, so the still shows pictures, not empty boxes.
            await page.wait_for_function(
                "[...document.images].length >= 8 && "
                "[...document.images].every(image => image.complete && image.naturalWidth > 0)"
            )
            await page.screenshot(path=str(path))
        finally:
            await browser.close()


def _shrink(source: Path, target: Path) -> Path:
    if not source.is_file():
        raise PictureError(f"{source} was not written")
    with Image.open(source) as opened:
        image = opened.convert("RGB")
    if image.width > WIDTH:
        height = round(image.height * WIDTH / image.width)
        image = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
    image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT).save(
        target, format="PNG", optimize=True
    )
    return target


async def _stop(demo: asyncio.subprocess.Process) -> None:
    if demo.returncode is not None:
        return
    demo.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(demo.wait(), STOP_S)
    except TimeoutError:
        demo.kill()
        await demo.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images")
    arguments = parser.parse_args()
    try:
        written = make_pictures(arguments.out)
    except PictureError as exc:
        sys.exit(f"readme_picture: {exc}")
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()

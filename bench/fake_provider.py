"""A loopback Replicate in its own process for benchmarks (providers are remote in real
life: they must not share the API's event loop or CPU share).

    python -m bench.fake_provider --seconds 2 --secret whsec_... --token r8_bench
Prints `ready <base url>` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import tempfile
from pathlib import Path

import uvicorn

from services.media.binaries import ffmpeg_path
from tests.fakes.replicate import FakeModel, FakeReplicate


def clip(seconds: int) -> bytes:
    out = Path(tempfile.mkdtemp()) / "clip.mp4"
    subprocess.run(
        [ffmpeg_path(), "-y", "-loglevel", "error", "-f", "lavfi",
         "-i", f"testsrc=size=640x360:rate=24:duration={seconds}",
         "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )  # fmt: skip
    return out.read_bytes()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clip-seconds", type=int, default=6)
    parser.add_argument("--token", default="r8_bench")
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    fake = FakeReplicate(args.token, args.secret)
    fake.add_model(
        "bytedance/seedance-1-lite",
        FakeModel(mode="timed", duration=args.seconds, files={"clip.mp4": clip(args.clip_seconds)}),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(fake.app, log_level="warning", access_log=False, lifespan="on")
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    print(f"ready http://127.0.0.1:{port}", flush=True)
    await serving


if __name__ == "__main__":
    asyncio.run(main())

"""`place snapshot ...`: the ops commands over the object store. Each returns the line to print."""

from __future__ import annotations

import argparse

from place.settings import Settings
from place.store import open_store


async def run_snapshot(args: argparse.Namespace, settings: Settings) -> str:
    """The after-the-event tools run in this thread, blocking: nothing else runs in this process,
    and Ctrl-C reaches them at once."""
    store = open_store(settings)
    if args.action == "timelapse":
        from place.snapshot.timelapse import make_timelapse

        return make_timelapse(
            store,
            out=args.out,
            frames_dir=args.frames_dir,
            start=args.start,
            end=args.end,
            fps=args.fps,
            scale=args.scale,
        )
    if args.action == "heatmap":
        from place.snapshot.heatmap import make_heatmap

        return make_heatmap(store, args.out)
    if args.action == "export":
        from place.snapshot.export import export_placements

        return export_placements(store, args.out)
    from place.snapshot import ops

    return await ops.run(args, settings, store)

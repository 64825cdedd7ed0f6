"""Run every benchmark in bench/: each bench/*.py other than this one that defines main(argv).

    python bench/run.py                        # all of them, full runs
    python bench/run.py --quick                # options it does not know go to every benchmark
    python bench/run.py --only loaders -- --repeat 3 --frames 16
    python bench/run.py --list

A benchmark is a module whose main(argv: list[str]) returns an exit status (0: all its checks
passed) and which does nothing on import. Modules without main (shared helpers) and names
starting with "_" are skipped. Exit status: 0 when every benchmark returned 0, else 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def candidates() -> list[Path]:
    return sorted(
        p
        for p in HERE.glob("*.py")
        if p.resolve() != Path(__file__).resolve() and not p.name.startswith("_")
    )


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def takes_argv(fn: object) -> bool:
    """main(argv) can be called with one positional argument."""
    if not callable(fn):
        return False
    try:
        inspect.signature(fn).bind([])
    except (TypeError, ValueError):
        return False
    return True


def discover() -> dict[str, ModuleType]:
    found = {}
    for path in candidates():
        module = load(path)
        if takes_argv(getattr(module, "main", None)):
            found[path.stem] = module
    return found


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in argv:  # everything after -- goes to the benchmarks untouched
        argv, passed = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__.splitlines()[0],
        epilog="Unknown options, and everything after --, are passed to every benchmark.",
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these (file stems) only")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args, rest = parser.parse_known_args(argv)
    benches = discover()
    if args.list:
        for name, module in benches.items():
            doc = (module.__doc__ or "").strip().splitlines()
            print(f"{name:12} {doc[0] if doc else ''}")
        return 0
    if args.only:
        unknown = sorted(set(args.only) - set(benches))
        if unknown:
            parser.error(f"no benchmark named {', '.join(unknown)} (have: {', '.join(benches)})")
        benches = {name: benches[name] for name in args.only}
    failed = []
    for name, module in benches.items():
        bench_argv = rest + passed
        print(f"=== {name} {' '.join(bench_argv)}".rstrip(), flush=True)
        t0 = time.perf_counter()
        try:
            status = module.main(bench_argv)
        except SystemExit as e:  # argparse errors and sys.exit inside main
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception:
            traceback.print_exc()
            status = 1
        print(f"=== {name}: exit {status or 0} in {time.perf_counter() - t0:.0f} s\n", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

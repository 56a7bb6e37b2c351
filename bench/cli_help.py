"""How long `accessdesk --help` takes, next to a bare interpreter and to importing the app (goal: ≤ 0.3 s here).

An operator types `accessdesk --help`, or a typo, and waits. The command imports nothing of the application until
a command needs it (SQLAlchemy, the tables, the domain, Litestar: `src/accessdesk/cli.py`), so asking for help
should cost little more than starting Python. Three commands are timed as fresh processes, alternated round by
round so that the machine's load falls on each alike, and each result is the median of its rounds:

- `python -c pass`: the floor, the interpreter starting with the project's site-packages;
- `accessdesk --help`: the console script, as installed in `.venv/bin`;
- `python -c "import accessdesk.app"`: what `--help` cost when the command imported the whole app.

It prints each median, `accessdesk --help` ÷ `python -c pass` and ÷ importing the app, and the verdict on the
issue's goal (a median of at most 0.3 s on the 2-core development machine). No database is needed.

    .venv/bin/python -m bench.cli_help [--rounds 15]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench._common import median, verdict

GOAL_SECONDS = 0.3
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "accessdesk --help": [str(Path(sys.executable).parent / "accessdesk"), "--help"],
    "import accessdesk.app": [sys.executable, "-c", "import accessdesk.app"],
}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()
    names = list(COMMANDS)
    for name in names:  # once each first: the files in the page cache, the .pyc written
        timed(COMMANDS[name])
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else reversed(names):
            seconds[name].append(timed(COMMANDS[name]))
    medians = {name: median(values) for name, values in seconds.items()}
    for name in names:
        print(f"{name:<24} median {medians[name] * 1000:7.1f} ms  (min {min(seconds[name]) * 1000:.1f}, "
              f"max {max(seconds[name]) * 1000:.1f}; {args.rounds} runs)")  # fmt: skip
    help_ = medians["accessdesk --help"]
    print(f"accessdesk --help ÷ python -c pass:        {help_ / medians['python -c pass']:.2f}")
    print(f"accessdesk --help ÷ import accessdesk.app: {help_ / medians['import accessdesk.app']:.2f}")
    print(f"accessdesk --help: {help_:.3f} s, goal ≤ {GOAL_SECONDS} s: "
          f"{verdict(help_, GOAL_SECONDS, at_least=False)}")  # fmt: skip


if __name__ == "__main__":
    main()

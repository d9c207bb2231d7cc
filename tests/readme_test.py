#!/usr/bin/env python3
"""Runs the README's examples as a new user would, so that they cannot drift from the code.

Every ```sh block runs, in README order, with bash -euo pipefail, from a folder laid out
like a fresh clone after command 1: build/ is the build tree and ../shared the shared
data. A ```console block is a transcript: each `$ command` runs and its stdout must equal
the lines below it. A block right after `<!-- readme-test: skip (reason) -->` is not run
(set-up and benchmark commands). At the end, nothing but out/ may have been written.

Exit codes: 0 passed, 1 failed, 77 skipped (no ../shared/data).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP_MARK = re.compile(r"<!--\s*readme-test:\s*skip\b")
FENCE = re.compile(r"^```(\w*)\s*$")


def blocks(readme_text):
    """(line number, info string, text) of every fenced block not marked to be skipped."""
    lines = readme_text.split("\n")
    found, i, skip_next = [], 0, False
    while i < len(lines):
        if SKIP_MARK.search(lines[i]):
            skip_next = True
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, info = i + 1, m.group(1)
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            i += 1
        if not skip_next:
            found.append((start, info, "\n".join(lines[start:i]) + "\n"))
        skip_next = False
        i += 1
    return found


def transcript(text):
    """[(command, expected output)] of a console block; continuation lines end in a backslash."""
    steps, command, expected = [], None, []
    for line in text.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            if command is not None:
                steps.append((command, "\n".join(expected)))
            command, expected = line[2:], []
        elif command is not None and command.endswith("\\") and not expected:
            command += "\n" + line
        else:
            expected.append(line)
    if command is not None:
        steps.append((command, "\n".join(expected)))
    return steps


def run(command, cwd, env, timeout):
    return subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readme", required=True)
    parser.add_argument("--build", required=True, help="the build tree (holds the vpr binary)")
    parser.add_argument("--shared", required=True, help="the shared folder (../shared of a clone)")
    parser.add_argument("--work", help="folder to run in (default: a new temporary one)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per block")
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.shared, "data")):
        print(f"SKIP: the README's examples need {args.shared}/data (the shared test data)")
        return 77

    work = args.work or tempfile.mkdtemp(prefix="vpr_readme_")
    clone = os.path.join(work, "clone")
    for stale in (os.path.join(clone, "out"), os.path.join(work, "cache")):  # a previous run's outputs
        shutil.rmtree(stale, ignore_errors=True)
    os.makedirs(clone, exist_ok=True)
    for link, target in ((os.path.join(clone, "build"), args.build), (os.path.join(work, "shared"), args.shared)):
        if not os.path.islink(link):
            os.symlink(os.path.abspath(target), link)
    env = dict(os.environ, VPR_CACHE_DIR=os.path.join(work, "cache"))

    with open(args.readme, encoding="utf-8") as f:
        readme = f.read()
    failures, ran = 0, 0
    for line, info, text in blocks(readme):
        if info not in ("sh", "console"):
            continue
        steps = transcript(text) if info == "console" else [(text, None)]
        for command, expected in steps:
            ran += 1
            first = command.strip().split("\n")[0][:100]
            start = time.time()
            result = run(command, clone, env, args.timeout)
            seconds = time.time() - start
            if expected is None and result.returncode != 0:
                failures += 1
                print(f"FAIL README.md:{line}: exit {result.returncode} after {seconds:.0f} s: {first}\n"
                      f"--- stdout\n{result.stdout}--- stderr (last 4000 characters)\n{result.stderr[-4000:]}")
            elif expected is not None and result.stdout.rstrip("\n") != expected.rstrip("\n"):
                failures += 1
                print(f"FAIL README.md:{line}: the transcript differs from what the command prints: {first}\n"
                      f"--- README\n{expected}\n--- printed\n{result.stdout}")
            else:
                print(f"ok   README.md:{line} ({seconds:.0f} s): {first}", flush=True)

    written = sorted(set(os.listdir(clone)) - {"build", "out"})
    if written:
        failures += 1
        print(f"FAIL the examples wrote outside out/: {written}")
    print(f"{ran} README commands run, {failures} failed (in {clone})")
    return 1 if failures or ran == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

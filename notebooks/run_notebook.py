#!/usr/bin/env python3
"""Runs a notebook's code cells in order, headless, with only the Python standard library.

    python3 notebooks/run_notebook.py notebooks/strategy_speedups.ipynb

The cells run in one namespace with the notebook's folder as the working directory (as
Jupyter runs them), their output goes to standard output, and the first failing cell stops
the run with a non-zero exit naming the cell. Jupyter is not needed; the notebook's outputs
are not written back.
"""
import json
import os
import sys
import traceback
from pathlib import Path


def main(argv):
    if len(argv) != 2:
        print("usage: run_notebook.py NOTEBOOK.ipynb", file=sys.stderr)
        return 2
    path = Path(argv[1]).resolve()
    try:
        notebook = json.loads(path.read_text())
        cells = notebook["cells"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"run_notebook: {path}: not a readable notebook: {e}", file=sys.stderr)
        return 2
    for name in ("MOESIM", "MOESIM_SWEEP_CSV", "MOESIM_NOTEBOOK_PNG"):  # relative: from where this was started
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).resolve())
    os.chdir(path.parent)
    namespace = {"__name__": "__main__"}
    code_cells = [c for c in cells if c.get("cell_type") == "code"]
    for number, cell in enumerate(code_cells, start=1):
        source = "".join(cell.get("source", []))
        print(f"--- cell {number} of {len(code_cells)}", flush=True)
        try:
            exec(compile(source, f"{path.name}, code cell {number}", "exec"), namespace)
        except SystemExit as e:
            print(f"run_notebook: {path.name}: code cell {number} stopped: {e}", file=sys.stderr)
            return 1
        except Exception:
            traceback.print_exc()
            print(f"run_notebook: {path.name}: code cell {number} failed", file=sys.stderr)
            return 1
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

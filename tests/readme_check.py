#!/usr/bin/python3
"""Every code block of README.md is a real program or command, and this test proves it.

  ```cpp / ```cmake  must be, whole, the content of a file in examples/ (which the install-tree
                     test builds and runs against the installed library);
  ```sh              the block is run as one bash script (-euo pipefail) from a scratch folder
                     holding a link to the bundled data/, with the built `nnmf` first on PATH;
                     a block of only scripts/test.sh (this test's own caller) and scripts/demo.sh
                     (run by .ci/run right after the tests) is checked to name executable
                     scripts instead;
  ```python          run by the Python interpreter given, with the built package on PYTHONPATH;
  ```text            output shown to the reader, not code.
A block without a language, or with another one, fails the test.

Usage: readme_check.py README.md BUILD_DIR PYTHON
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

NOT_RUN_HERE = {"scripts/test.sh", "scripts/demo.sh"}


def blocks(text):
    for m in re.finditer(r"^```([^\n`]*)\n(.*?)^```\s*$", text, re.M | re.S):
        yield m.group(1).strip(), m.group(2), text.count("\n", 0, m.start()) + 1


def commands(body):
    """Command lines of a shell block, joining continuation lines and dropping comments."""
    out, cur = [], ""
    for line in body.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        cur += line.rstrip("\\").rstrip() + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            out.append(cur.strip())
            cur = ""
    return out


def main():
    readme, build, python = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    root = os.path.dirname(os.path.abspath(readme))
    text = open(readme, encoding="utf-8").read()
    examples = {}
    for name in os.listdir(os.path.join(root, "examples")):
        with open(os.path.join(root, "examples", name), encoding="utf-8") as f:
            examples[name] = f.read()
    scratch = tempfile.mkdtemp(prefix="nnmf-readme-")
    os.symlink(os.path.join(root, "data"), os.path.join(scratch, "data"))
    env = dict(os.environ)
    env["PATH"] = os.path.join(build, "src", "cli") + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.path.join(build, "python")
    failures, counts = [], {}
    try:
        for lang, body, line in blocks(text):
            counts[lang] = counts.get(lang, 0) + 1
            where = f"README.md:{line} ({lang or 'no language'})"
            if lang in ("cpp", "cmake"):
                if body not in examples.values():
                    failures.append(f"{where}: not the whole content of a file in examples/")
            elif lang == "sh":
                cmds = commands(body)
                if cmds and all(c.split()[0] in NOT_RUN_HERE for c in cmds):
                    for c in cmds:
                        if not os.access(os.path.join(root, c.split()[0]), os.X_OK):
                            failures.append(f"{where}: {c.split()[0]} is not an executable script")
                    continue
                r = subprocess.run(["bash", "-euxo", "pipefail", "-c", body], cwd=scratch, env=env,
                                   capture_output=True, text=True, timeout=900)
                print(f"sh block at line {line}: exit {r.returncode}\n{r.stderr[-3000:]}")
                if r.returncode != 0:
                    failures.append(f"{where}: exited {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
            elif lang == "python":
                if not os.path.isdir(os.path.join(build, "python", "nnmf")):
                    failures.append(f"{where}: the Python package was not built in {build}/python")
                    continue
                r = subprocess.run([python, "-c", body], cwd=scratch, env=env, capture_output=True,
                                   text=True, timeout=600)
                print(f"python block at line {line}: exit {r.returncode}")
                if r.returncode != 0:
                    failures.append(f"{where}: exited {r.returncode}:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
            elif lang != "text":
                failures.append(f"{where}: unknown block language (use cpp, cmake, sh, python or text)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("README blocks:", ", ".join(f"{n} {k or 'plain'}" for k, n in sorted(counts.items())))
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

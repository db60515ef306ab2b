"""The shell commands printed in README.md and export/README.md: each parses
with the real argument parser and names files that exist; the frappe CLI
walk-through runs as printed (long)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from keras_fm.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
SHARED = "../shared/data"
# Programs the blocks may call; the TF Serving binary and Docker are not
# installed by the package, so their commands are documentation only.
CHECKED = (".venv/bin/keras-fm", ".venv/bin/python", ".venv/bin/saved_model_cli")
NOT_RUN = ("tensorflow_model_server", "docker")
SETUP = "python3 -m venv .venv && "
COMMANDS = ("train", "evaluate", "predict", "export", "explain", "report")


def commands(readme):
    """Each command of each ```bash block: (block index, command text)."""
    text = (ROOT / readme).read_text()
    found = []
    for index, block in enumerate(re.findall(r"```bash\n(.*?)```", text, re.S)):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append((index, " ".join(line.split())))
    return found


ALL = commands("README.md") + commands("export/README.md")


def test_every_command_is_a_known_program():
    for _, command in ALL:
        if command.startswith(SETUP):
            continue
        program = command.split()[0]
        assert program in CHECKED + NOT_RUN, command


def test_setup_commands_are_the_ci_ones():
    ci = (ROOT / ".ci" / "run").read_text()
    setup = [c for _, c in ALL if c.startswith(SETUP)]
    assert len(setup) == 2
    test_command = setup[1].split(" && ")[-1]
    assert test_command in ci


@pytest.mark.parametrize(
    "command", [c for _, c in ALL if c.startswith(".venv/bin/keras-fm")]
)
def test_keras_fm_commands_parse_and_name_existing_files(command, shared_data):
    args = shlex.split(command)[1:]
    parsed = build_parser().parse_args(args)
    assert parsed.command in COMMANDS
    inputs = [a for a in args if a.startswith(SHARED)]
    if parsed.command not in ("export", "report"):
        assert inputs, "the commands read the shared data"
    if inputs and not shared_data.is_dir():
        pytest.skip(f"the shared data is absent: {shared_data}")
    for path in inputs:
        assert (shared_data / path[len(SHARED) + 1 :]).is_file(), path


def runnable(command, shared_data, bin_dir):
    """The command with this machine's venv and shared data in place."""
    places = {
        SHARED: str(shared_data),
        ".venv/bin/keras-fm": f"{sys.executable} -m keras_fm",
        ".venv/bin/python": sys.executable,
        ".venv/bin/": f"{bin_dir}/",
    }
    pattern = "|".join(re.escape(place) for place in places)
    return re.sub(pattern, lambda match: places[match.group(0)], command)


@pytest.mark.long
def test_the_frappe_walk_through_runs_as_printed(shared_data, tmp_path):
    """README's command-line block, its explaining and calibrating block,
    then export/README's export and saved_model_cli blocks, in order, in a
    fresh folder."""
    if not (shared_data / "frappe").is_dir():
        pytest.skip(f"frappe is absent from {shared_data}")
    readme = [c for i, c in commands("README.md") if i == 2]
    (block,) = {i for i, c in commands("README.md") if "keras-fm explain" in c}
    explain = [c for i, c in commands("README.md") if i == block]
    export = [c for _, c in commands("export/README.md") if c.split()[0] in CHECKED]
    assert readme[0].startswith(".venv/bin/keras-fm train --model fm")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    assert len(explain) == 4, explain
    for command in [*readme, *explain, *export]:
        done = subprocess.run(
            runnable(command, shared_data, bin_dir),
            shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    assert (tmp_path / "runs" / "fm" / "scores.txt").stat().st_size > 0
    assert (tmp_path / "runs" / "serving" / "fm" / "2").is_dir()
    for picture in ("explain/interactions.png", "reliability.png", "report.png"):
        assert (tmp_path / "runs" / "fm" / picture).stat().st_size > 0, picture
    assert "prediction" in done.stdout  # saved_model_cli printed the output


@pytest.mark.long
@pytest.mark.parametrize("flag", ["--task ranking", "--distribute", "--learner mcmc"])
def test_the_other_frappe_training_commands_run_as_printed(flag, shared_data, tmp_path):
    """README's ranking, multi-device and Bayesian training commands, each
    as printed, in a fresh folder."""
    if not (shared_data / "frappe").is_dir():
        pytest.skip(f"frappe is absent from {shared_data}")
    (command,) = [c for _, c in commands("README.md") if flag in c]
    done = subprocess.run(
        runnable(command, shared_data, Path(sys.executable).parent),
        shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=1200,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    assert '"test": {' in done.stdout.splitlines()[-1]  # the final metrics

import subprocess
import sys
from pathlib import Path

import pytest

from keras_fm import __version__
from keras_fm.cli import main
from keras_fm.cli.arguments import l2_spec


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "keras_fm", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"keras-fm {__version__}"


@pytest.mark.parametrize("args", [["--version"], ["train", "--help"], ["train"]])
def test_parsing_the_command_line_needs_no_tensorflow(args):
    """--help, --version and argument errors answer before TensorFlow loads
    (it takes seconds to import); a command imports it once its arguments
    parse (`keras_fm.console.load_package`)."""
    script = (
        "import runpy, sys\n"
        f"sys.argv = ['keras-fm', *{args!r}]\n"
        "try:\n"
        "    runpy.run_module('keras_fm', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "False False"


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout and "--version" in result.stdout


def test_console_script_is_installed():
    assert (Path(sys.executable).parent / "keras-fm").is_file()


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: keras-fm" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--examples", "zero"], "expected a positive integer"),
        (["demo", "--epochs", "0"], "expected a positive integer"),
        (["nonsense"], "invalid choice"),
        (["train", "--l2", "x"], "feature=number pairs"),
        (["train", "--l2", "user=-1"], "feature=number pairs"),
        (["train", "--init-stdev", "0"], "expected a positive number"),
        (["train", "--init-stdev", "nan"], "expected a positive number"),
        (["train", "--burn-in", "-1"], "expected a non-negative integer"),
    ],
)
def test_bad_arguments_exit_2_without_traceback(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_output_dir_that_is_a_file_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert (
        main(["demo", "--output-dir", str(blocker / "sub"), "--examples", "100"]) == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("keras-fm demo: error:") and "\n" not in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.01", 0.01),
        ("1e-3", 0.001),
        ("user_id=0.1,item_id=0.2", {"user_id": 0.1, "item_id": 0.2}),
        ("0.01, user_id=0.1", {"*": 0.01, "user_id": 0.1}),
        ("f=0", {"f": 0.0}),
    ],
)
def test_l2_spec(text, expected):
    assert l2_spec(text) == expected


@pytest.mark.parametrize(
    "text", ["a=1,a=2", "0.1,0.2", "-1", "nan", "inf", "a=", "=1", "a=1,,b=2", "x"]
)
def test_bad_l2_spec(text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="feature=number pairs"):
        l2_spec(text)

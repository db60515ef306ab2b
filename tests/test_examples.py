import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
def test_quickstart_runs_and_exports(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'auc'" in result.stdout
    assert f"wrote {tmp_path}/model.keras" in result.stdout
    assert (tmp_path / "model.keras").is_file()
    assert (tmp_path / "saved_model" / "1" / "saved_model.pb").is_file()

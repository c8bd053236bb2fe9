"""The README's promises: its Python examples run as written, and CI runs exactly its test command."""

from __future__ import annotations

import re

import pytest

from .conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
BASH_BLOCKS = re.findall(r"```bash\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_example_runs(index: int):
    namespace: dict = {}
    exec(compile(PYTHON_BLOCKS[index], f"README.md python block {index}", "exec"), namespace)  # noqa: S102
    assert len(namespace) > 1  # the block defined something (it ran past its imports)


def test_readme_has_two_set_up_commands_and_ci_runs_the_second():
    set_up = README[README.index("## Set-up"):README.index("\n## ", README.index("## Set-up") + 1)]
    commands = [block.strip() for block in re.findall(r"```bash\n(.*?)```", set_up, flags=re.S)]
    assert len(commands) == 2 and "streamlit run app.py" in commands[0] and "pytest" in commands[1]
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci
    assert "requirements.txt" in commands[0] and "chromium" in commands[1]

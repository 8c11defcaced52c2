from pathlib import Path

import pytest

from tests.conftest import shared_data_root
from tests.distill.tiny import tiny_student, tiny_task


@pytest.fixture(scope="session")
def data_root() -> Path:
    return shared_data_root("distilling_step_by_step")


@pytest.fixture(scope="session")
def colours(tmp_path_factory) -> Path:
    return tiny_task(tmp_path_factory.mktemp("task") / "colours")


@pytest.fixture(scope="session")
def student_dir(tmp_path_factory) -> Path:
    return tiny_student(tmp_path_factory.mktemp("student"))

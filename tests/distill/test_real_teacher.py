"""A run whose teacher is a real local model (SmolLM2-135M, constrained decoding) for a few examples."""

import pytest

from mentor.distill.config import DistillConfig
from mentor.distill.run import distill
from mentor.llm import LLMClient, LLMConfig, ResponseStore

pytestmark = pytest.mark.slow


def test_step_by_step_with_smollm2_as_teacher(colours, student_dir, tmp_path, store_path):
    config = DistillConfig(task=str(colours), mode="step-by-step", teacher="local:smollm2-135m",
                           student=str(student_dir), train_size=5, epochs=1, shots=1)  # fmt: skip
    with LLMClient(LLMConfig(llm="local:smollm2-135m", n_ctx=2048), store=store_path) as client:
        result = distill(config, tmp_path, client, progress=False)
    data = result["data"]
    assert data["train_drawn"] == 5 and data["validation"] == 1 and data["train_used"] == 4
    # constrained decoding: every answer is a JSON object with a rationale and one of the labels
    assert data["teacher_failures"] == 0 and data["with_rationale"] == 4
    with ResponseStore(store_path) as store:
        assert 1 <= len(store) <= 5  # one stored answer per distinct input (the tiny task repeats some)

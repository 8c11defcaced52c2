"""Worker for the distill resume test: trains the tiny student for several epochs and writes result.json."""

import sys
from pathlib import Path

from mentor.distill.config import DistillConfig
from mentor.distill.run import distill

task, student, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
config = DistillConfig(task=task, mode="step-by-step", student=student, epochs=6, batch_size=2, learning_rate=3e-3)
distill(config, out, progress=False)

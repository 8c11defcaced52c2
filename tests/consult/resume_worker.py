"""Worker for the consult resume test: runs a strategy with a slow scripted consultant, writes result.json."""

import json
import sys
from pathlib import Path

from mentor.consult import ConsultConfig, make_consultation, summary, write_outputs
from mentor.consult.report import gated_summary, write_gated_outputs
from mentor.graph import make_synthetic
from mentor.llm import LLMClient, LLMConfig
from tests.consult.scripted import ScriptedConsultant, always_right

store, out, log, strategy = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
graph = make_synthetic(num_nodes=150, num_classes=3, homophily=0.7, seed=4)
graph.texts = [f"{text} (doc {i})" for i, text in enumerate(graph.texts)]
backend = ScriptedConsultant(graph, always_right(graph), log=log, delay_s=0.15, confidence=lambda node: 0.8)
config = ConsultConfig(dataset="synthetic", strategy=strategy, features="bow", rounds=3, max_calls=18, epochs=60,
                       patience=30, min_gain=1)  # fmt: skip
with LLMClient(LLMConfig(llm="openai:scripted", base_url="http://127.0.0.1:9/v1", concurrency=2), store=store,
               backend=backend) as client:  # fmt: skip
    result = make_consultation(config, client, graph=graph, progress=False).run()
    if strategy == "gated":
        payload = gated_summary(result, client, 0.0)
        write_gated_outputs(out, result, payload)
    else:
        payload = summary(result, client, 0.0)
        write_outputs(out, result, payload)
print(json.dumps(payload["totals"]))

"""Worker process for the resume test: answers a batch of prompts, then writes the labels as JSON."""

import json
import sys

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig

base_url, store, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
labels = Labels(labels=("a", "b", "c"))
requests = [ChatRequest.from_prompt(f"item-{i:03d} [answer:{'abc'[i % 3]}]", output=labels) for i in range(count)]
config = LLMConfig(llm="openai:fake", base_url=base_url, concurrency=2)
with LLMClient(config, store=store) as client:
    results = client.complete_many(requests)
with open(out, "w") as handle:
    json.dump([r.label if r.ok else None for r in results], handle)

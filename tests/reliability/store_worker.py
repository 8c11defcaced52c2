"""Worker for the shared-store test: asks the same N requests as its twin, on one store, then exits."""

import sys

from mentor.llm import ChatRequest, Labels, LLMClient, LLMConfig

base_url, store, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
labels = Labels(labels=("a", "b", "c"))
with LLMClient(LLMConfig(llm="openai:fake", base_url=base_url, concurrency=4), store=store) as client:
    results = client.complete_many([ChatRequest.from_prompt(f"shared {i}", output=labels) for i in range(count)])
sys.exit(0 if all(r.ok for r in results) else 1)

"""A consult run against an endpoint that sometimes replies garbage finishes with every answer it got."""

from mentor.consult import ConsultConfig, GatedConsultation, gated_summary, write_gated_outputs
from mentor.graph import make_synthetic
from mentor.llm import LLMClient, LLMConfig
from tests.llm.fault_server import FaultServer


def test_bad_replies_become_failures_and_the_run_writes_its_result(tmp_path):
    graph = make_synthetic(num_nodes=80, num_classes=3, homophily=0.7, seed=1)
    faults = ("[fault:html]", "[fault:badjson]", "")
    graph.texts = [f"{text} (doc {i}) [answer:{graph.class_names[int(graph.y[i])]}] {faults[i % 3]}"
                   for i, text in enumerate(graph.texts)]  # fmt: skip
    config = ConsultConfig(dataset="synthetic", features="bow", budget=0.5, epochs=40, patience=20, min_gain=1)
    with FaultServer() as server:
        llm = LLMConfig(llm="openai:fake", base_url=server.base_url, max_retries=1, timeout_s=5)
        with LLMClient(llm, store=tmp_path / "s.sqlite") as client:
            result = GatedConsultation(config, client, graph=graph, progress=False).run()
            payload = gated_summary(result, client, 0.0)
            stored = len(client.store)
    write_gated_outputs(tmp_path / "out", result, payload)
    assert (tmp_path / "out" / "result.json").is_file()
    failures = payload["totals"]["failures"]
    # (a prompt also shows neighbours' texts, so a neighbour's directive may decide the reply)
    assert failures.get("bad_response", 0) >= 2 and set(failures) <= {"bad_response", "invalid_label"}
    assert payload["totals"]["calls"] == stored > 0  # every answer that arrived was stored and used

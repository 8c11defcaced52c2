"""LLM-as-predictor and LLM-as-enhancer baselines, with a scripted consultant."""

from mentor.consult import ConsultConfig
from mentor.consult.baselines import llm_as_enhancer, llm_as_predictor
from mentor.llm import LLMClient, LLMConfig
from tests.consult.scripted import ScriptedConsultant, always_right, always_wrong

CONFIG = ConsultConfig(dataset="synthetic", features="bow", epochs=40, patience=20)
HTTP = LLMConfig(llm="openai:scripted", base_url="http://127.0.0.1:9/v1")


def test_predictor_labels_test_nodes_only_and_hides_labels_and_predictions(graph, store_path):
    backend = ScriptedConsultant(graph, always_right(graph))
    with LLMClient(HTTP, store=store_path, backend=backend) as client:
        prompts = []
        original = client.complete_many
        client.complete_many = lambda requests, **kw: (prompts.extend(requests), original(requests, **kw))[1]
        report = llm_as_predictor(CONFIG, client, sample=10, graph=graph, progress=False)
    test = graph.split("random").test
    assert len(backend.asked) == 10 and all(bool(test[n]) for n in backend.asked)
    assert report["accuracy"] == 1.0 and report["answered"] == 10
    assert all("[label:" not in p.messages[-1].content and "GNN prediction" not in p.messages[-1].content
               for p in prompts)  # fmt: skip


def test_enhancer_adds_every_explanation_and_prunes_nothing(graph, store_path):
    backend = ScriptedConsultant(graph, always_wrong(graph))
    with LLMClient(HTTP, store=store_path, backend=backend) as client:
        report = llm_as_enhancer(CONFIG, client, calls=12, graph=graph, progress=False)
    assert report["calls"] == 12 and report["texts_augmented"] == 12
    assert {"before", "after"} <= set(report) and report["after"]["test"]["acc"] >= 0

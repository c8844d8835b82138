"""The learned layer: its features, its training, its guard on corrections, its triage."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from handlers.complaints.learned import Example, Model, features, fit_temperature, train
from handlers.complaints.routing import OTHER, Router, default_router
from handlers.complaints.training import (
    CORRECTION_WEIGHT,
    HALF_LIFE_DAYS,
    Correction,
    guarded,
)

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _features(text: str, keywords=None, asked=None) -> dict[str, float]:
    tokens = list(text)  # one token a character: enough for the clause logic
    return features(text, tokens, keywords or {}, asked or {})


# --- features ------------------------------------------------------------------------


def test_the_request_counts_twice_and_the_story_once():
    found = _features("楼下有人吵，希望修电梯")
    assert "w:修" in found and "q:修" in found
    assert "w:吵" in found and "q:吵" not in found


def test_a_denied_or_feared_clause_votes_for_nothing():
    found = _features("没有着火，万一有小偷呢，电梯坏了")
    assert "n:火" in found and "w:火" not in found
    assert "n:偷" in found and "w:偷" not in found
    assert "w:梯" in found


def test_a_letter_subject_line_counts_like_the_request():
    found = _features("标题：关于路灯不亮\n内容：上周有人被抢")
    assert "t:灯" in found and "t:抢" not in found


def test_the_keyword_table_enters_as_one_feature_a_department():
    found = _features("电梯坏了", {"property": 3.0}, {"property": 2.5})
    assert found["k:property"] > 0 and found["kq:property"] > 0


def test_every_text_weighs_alike_whatever_its_length():
    for text in ("电梯坏了", "电梯坏了" * 200):
        assert math.isclose(math.sqrt(sum(v * v for v in _features(text).values())), 1.0)


# --- training --------------------------------------------------------------------------

CLASSES = ("property", "sanitation", OTHER)
TOY = [
    ("电梯又坏了", "property"),
    ("电梯停了没人修", "property"),
    ("楼道灯坏了电梯也坏了", "property"),
    ("垃圾没人收", "sanitation"),
    ("垃圾桶满了好臭", "sanitation"),
    ("门口垃圾堆成山", "sanitation"),
    ("怎么办居住证", OTHER),
    ("居住证去哪里办", OTHER),
    ("想问居住证的事", OTHER),
]


def _toy_examples() -> list[Example]:
    return [Example(_features(text), label) for text, label in TOY]


def test_training_learns_the_toy_departments_and_is_deterministic():
    model = train(_toy_examples(), CLASSES, min_count=1, steps=200)
    again = train(_toy_examples(), CLASSES, min_count=1, steps=200)
    for text, label in [("电梯坏了", "property"), ("垃圾好臭", "sanitation")]:
        probabilities = model.probabilities(_features(text))
        assert max(probabilities, key=probabilities.get) == label
        assert math.isclose(sum(probabilities.values()), 1.0)
        assert probabilities == again.probabilities(_features(text))


def test_a_model_survives_its_json_round_trip():
    model = train(_toy_examples(), CLASSES, min_count=1, steps=100)
    back = Model.from_json(model.to_json())
    for text, _ in TOY:
        got, want = back.probabilities(_features(text)), model.probabilities(_features(text))
        assert all(abs(got[c] - want[c]) < 0.01 for c in CLASSES)


def test_a_model_of_another_version_is_refused():
    doc = train(_toy_examples(), CLASSES, min_count=1, steps=10).to_json()
    with pytest.raises(ValueError):
        Model.from_json({**doc, "version": 1})


def test_the_temperature_softens_an_overconfident_model():
    model = train(_toy_examples(), CLASSES, min_count=1, steps=300, rate=2.0)
    wrong = [Example(_features("电梯垃圾居住证"), label) for label in CLASSES]
    assert fit_temperature(model, wrong) > 1.0


# --- the guard on corrections --------------------------------------------------------------


def _correction(worker: int | None, days: float = 0.0) -> Correction:
    return Correction(
        "建筑垃圾堆在楼道口", "sanitation", "city_management", worker, NOW - timedelta(days=days)
    )


def test_one_worker_alone_teaches_nothing_however_often():
    assert guarded([_correction(7) for _ in range(10)], NOW) == []


def test_too_few_corrections_teach_nothing_even_from_two_workers():
    assert guarded([_correction(7), _correction(8)], NOW) == []


def test_three_corrections_from_two_workers_teach_and_age():
    kept = guarded([_correction(7), _correction(8), _correction(7, HALF_LIFE_DAYS)], NOW)
    assert [department for _, department, _ in kept] == ["city_management"] * 3
    weights = sorted(w for _, _, w in kept)
    assert math.isclose(weights[0], CORRECTION_WEIGHT / 2)
    assert math.isclose(weights[-1], CORRECTION_WEIGHT)


def test_a_correction_to_where_it_already_was_is_no_lesson():
    same = Correction("电梯坏了", "property", "property", 7, NOW)
    assert guarded([same, same, same], NOW) == []


# --- the router with its model --------------------------------------------------------------


def _uniform(router: Router) -> Model:
    keys = router.taxonomy.keys
    return Model(keys, {}, np.zeros((0, len(keys))), np.zeros(len(keys)))


def test_an_unsure_model_sends_the_complaint_to_triage_with_two_guesses():
    router = Router.from_config()
    routing = router.with_model(_uniform(router)).route("电梯坏了")
    assert routing.department == OTHER and routing.triage
    assert len(routing.candidates) == 2
    assert routing.confidence == pytest.approx(1 / len(router.taxonomy.keys))


def test_the_keyword_router_alone_is_the_cold_start():
    routing = Router.from_config().route("电梯坏了")
    assert routing.department == "property" and routing.candidates == ()


def test_the_service_routes_with_the_shipped_model():
    router = default_router()
    assert router.model is not None
    routing = router.route("3栋电梯又坏了，我妈下不了楼")
    assert routing.department == "property" and not routing.triage
    assert routing.candidates[0][0] == "property"


# The confusions the issue saw on real text, written anew for this test (neither in the
# corpus nor in the held-out set): what the request is about wins over a word's surface.
CONFUSIONS = [
    ("物业这个月起小区里停车每月要收三百块，凭什么随便涨价", "property"),
    ("我们这栋楼水压特别低，楼下的消防栓还一直在漏水，希望尽快修复供水", "municipal"),
    ("小区消防通道天天被私家车堵死，万一着火消防车根本进不来，请管一管", "fire_safety"),
    ("上周我在这条路上被抢了包，就是因为路灯一直不亮，希望赶紧把路灯修好", "municipal"),
    ("垃圾站的味道熏得整栋楼都开不了窗，请来清理一下", "sanitation"),
    ("我们楼的消防设施全部瘫痪了，烟感和喷淋都不工作", "fire_safety"),
    ("想问一下养老保险断缴了两年还能补交吗", "other"),
    ("我家老人瘫痪在床，子女在外地，能不能申请护理补贴", "social_assistance"),
    ("隔壁独居的王奶奶三天没出门了，敲门也没人应，麻烦社区去看看", "social_assistance"),
]


@pytest.mark.parametrize(("text", "department"), CONFUSIONS)
def test_the_request_is_routed_not_the_story(text: str, department: str):
    routing = default_router().route(text)
    assert (routing.department, routing.triage) == (department, False)


def test_a_feared_fire_in_a_request_raises_no_emergency():
    assert default_router().route(CONFUSIONS[2][0]).emergency is None

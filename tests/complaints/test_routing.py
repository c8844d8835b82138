"""Routing complaints to departments: normalisation, keywords, emergencies, learning.

These test the keyword layer (``Router.from_config()``): the explainable prior, and what
routes on a cold start with no model. The learned layer has tests of its own
(``test_learned.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from handlers.complaints.routing import (
    OTHER,
    Router,
    Routing,
    default_router,
    load_taxonomy,
    normalize,
    segmenter,
    taxonomy_from_mapping,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "config" / "routing_corpus"
HELDOUT = ROOT / "bench" / "data" / "heldout"


def _items(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text("utf-8").splitlines()
        if line.strip()
    ]


@pytest.fixture(scope="module")
def router() -> Router:
    return Router.from_config()


# --- every department, in the four ways residents write -----------------------------
# Written for these tests, not taken from the bench set.

ROUTED = [
    ("property", "simplified", "电梯卡在三楼不动了，里面的按钮全是黑的"),
    ("property", "traditional", "樓上住戶的水管漏水，把我家廚房天花板泡壞了"),
    ("property", "annotated", "小区的门(mén)禁(jìn)卡(kǎ)又刷不开了"),
    ("property", "voice", "嗯那个我们楼的电梯然后就是老是关不上门"),
    ("sanitation", "simplified", "小区东门那几个垃圾桶三天没人清，臭味飘到楼上"),
    ("sanitation", "traditional", "樓下垃圾站的垃圾堆成山，蒼蠅亂飛"),
    ("sanitation", "annotated", "小区后门的垃(lā)圾(jī)堆了一个星期"),
    ("sanitation", "voice", "呃那个就是我们楼道里面好脏啊垃圾袋扔得到处都是"),
    ("city_management", "simplified", "菜市场门口的水果摊天天占道经营"),
    ("city_management", "traditional", "社區門口天天有人擺地攤，路都過不去"),
    ("city_management", "annotated", "有人在小区绿地上私(sī)搭(dā)乱(luàn)建(jiàn)"),
    ("city_management", "voice", "呃那个我们楼下那户人家在院子里又搭了个棚子"),
    ("traffic_parking", "simplified", "有辆车长期停在小区出口，挡着大家进出"),
    ("traffic_parking", "traditional", "學校門口每天早上違停的車把路堵死了"),
    ("traffic_parking", "annotated", "楼下的车位被僵(jiāng)尸(shī)车占了"),
    ("traffic_parking", "voice", "那个就是我家车位然后老是被别人的车占了"),
    ("public_security", "simplified", "单元门口停的自行车一晚上被偷了三辆"),
    ("public_security", "traditional", "有人打電話冒充銀行，讓我媽把存款轉過去"),
    ("public_security", "annotated", "我的自行车被盗(dào)了"),
    ("public_security", "voice", "嗯那个我在网上买东西被人骗了两千块然后对方就拉黑了"),
    ("fire_safety", "simplified", "有人从五楼窗户拉电线下来给电动车充电"),
    ("fire_safety", "traditional", "社區的消防車道上被人堆滿了建材"),
    ("fire_safety", "annotated", "小区的消(xiāo)防(fáng)栓(shuān)被撞坏了"),
    ("fire_safety", "voice", "呃那个我们楼道里面有人天天给电瓶车充电"),
    ("municipal", "simplified", "小区外面那条路的路灯一到晚上就不亮"),
    ("municipal", "traditional", "下雨後社區門口的下水道冒出汙水"),
    ("municipal", "annotated", "马路上的井(jǐng)盖(gài)松了"),
    ("municipal", "voice", "嗯那个路口那边一下雨然后就积水很深"),
    ("environment", "simplified", "楼下饭馆的油烟直接排到我家窗户里"),
    ("environment", "traditional", "附近工廠的煙囪天天冒黑煙，空氣很差"),
    ("environment", "annotated", "楼下饭店的油(yóu)烟(yān)熏得人头疼"),
    ("environment", "voice", "嗯那个就是我们楼下那家酒吧啊每天放音乐放到半夜"),
    ("food_safety", "simplified", "楼下超市卖过期的酸奶，还打折促销"),
    ("food_safety", "traditional", "超市的熟食區賣的滷肉已經發酸變質了"),
    ("food_safety", "annotated", "外卖里吃出了虫(chóng)子(zi)"),
    ("food_safety", "voice", "嗯那个就是我在小卖部买的面包啊都发霉了还在卖"),
    ("dispute", "simplified", "楼上邻居天天半夜跺脚，说了好几次也不听"),
    ("dispute", "traditional", "隔壁鄰居家的狗天天半夜叫，溝通了也沒用"),
    ("dispute", "annotated", "房东不退押(yā)金(jīn)"),
    ("dispute", "voice", "嗯那个就是我们跟对门的邻居啊因为停车位的事吵架了"),
    ("social_assistance", "simplified", "我们楼有个独居老人腿脚不方便，想请社区帮忙送餐"),
    ("social_assistance", "traditional", "家裡老人九十歲了，想申請居家養老服務"),
    ("social_assistance", "annotated", "我爸瘫(tān)痪(huàn)在床，想申请护理补贴"),
    ("social_assistance", "voice", "呃那个我们楼有个老奶奶一个人住然后好几天没见她出门了"),
    ("other", "simplified", "孩子上学需要社区开一个居住证明，在哪里开"),
    ("other", "traditional", "請問社區什麼時候開始辦理社保卡"),
    ("other", "annotated", "想咨(zī)询(xún)一下户口迁移"),
    ("other", "voice", "呃就是我想问一下那个户口本丢了怎么补办"),
]


@pytest.mark.parametrize(
    ("department", "style", "text"), ROUTED, ids=[f"{d}-{s}" for d, s, _ in ROUTED]
)
def test_each_department_is_routed_in_every_style(
    router: Router, department: str, style: str, text: str
) -> None:
    routing = router.route(text)
    assert routing.department == department, routing
    assert routing.terms, "the handler must see why"
    assert routing.confidence >= router.taxonomy.min_confidence


def test_the_test_sentences_are_not_in_the_bench_set() -> None:
    written = {item["text"] for item in _items(CORPUS) + _items(HELDOUT)}
    assert not written & {text for _, _, text in ROUTED}


def test_every_department_of_the_taxonomy_is_tested(router: Router) -> None:
    assert {d for d, _, _ in ROUTED} == set(router.taxonomy.keys)


def test_terms_are_the_matched_words_in_text_order(router: Router) -> None:
    routing = router.route("小区东门那几个垃圾桶三天没人清，臭味飘到楼上")
    assert routing.terms == ("垃圾桶", "没人清", "臭味")


def test_a_keyword_inside_a_longer_matched_keyword_counts_once(router: Router) -> None:
    # 电梯 lies inside 电梯坏了: the reason shown is the longer phrase only.
    assert router.route("电梯坏了").terms == ("电梯坏了",)


def test_a_one_character_keyword_needs_a_word_of_its_own(router: Router) -> None:
    # 偷 (steal) inside 偷懒 (slack off) is no theft; with a particle (偷了) it is.
    assert "偷" not in router.route("保安上班偷懒").terms
    assert "偷" in router.route("有人偷了我的车").terms
    assert "吵" not in router.route("两口子吵架").terms


def test_a_keyword_never_cuts_two_words_in_half(router: Router) -> None:
    # 防水 (waterproofing) spans 消防|水池 in 消防水池 (a fire-fighting water tank).
    assert "防水" not in router.route("小区的消防水池没水了").terms


# --- normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("電(diàn)梯(tī)壞了", "电梯坏了"),
        ("电（diàn）梯坏了", "电梯坏了"),
        ("路灯(lu4 deng1)不亮", "路灯不亮"),
        ("路口的紅(hóng)綠(lǜ)燈(dēng)壞了", "路口的红绿灯坏了"),
        ("吃了拉(lā)肚(dù)子(zi)", "吃了拉肚子"),
        ("电梯(diàn tī)停了", "电梯停了"),
    ],
)
def test_pinyin_annotations_are_stripped(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["物业(PM)不管", "3栋(A座)漏水", "门禁(ok)坏了", "第3栋(2)单元"])
def test_brackets_that_are_not_pinyin_stay(text: str) -> None:
    assert "(" in normalize(text)


def test_full_width_becomes_half_width_and_case_folds() -> None:
    assert normalize("ＫＴＶ太吵了！１２点还在唱") == "ktv太吵了!12点还在唱"


def test_traditional_becomes_simplified() -> None:
    assert normalize("樓道裡很髒，垃圾沒人收") == "楼道里很脏,垃圾没人收"


def test_voice_fillers_are_dropped() -> None:
    assert normalize("嗯那个就是说我们楼下井盖没了然后很危险") == "我们楼下井盖没了很危险"
    assert normalize("呃 啊 电梯 坏了") == "电梯 坏了"


@pytest.mark.parametrize("text", ["金额不对", "你们干嘛不修", "这个月物业费又涨了"])
def test_real_words_survive_filler_removal(text: str) -> None:
    assert normalize(text) == text


def test_whitespace_collapses() -> None:
    assert normalize("  电梯\t\t坏了 \n\n 没人修  ") == "电梯 坏了 没人修"


# --- emergencies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "numbers"),
    [
        ("厨房着火了，快来人", "fire", ("119",)),
        ("三楼楼道里一股很浓的煤气味", "fire", ("119",)),
        ("楼下有个老人晕倒了，叫不醒", "ambulance", ("120",)),
        ("有人在小区门口抢劫，还拿着刀", "police", ("110",)),
        ("燃气泄漏了，有人已经昏迷", "fire", ("119", "120")),
    ],
)
def test_emergencies_are_flagged_with_the_number_to_call(
    router: Router, text: str, kind: str, numbers: tuple[str, ...]
) -> None:
    routing = router.route(text)
    assert routing.emergency == kind
    assert routing.emergency_numbers == numbers
    assert routing.emergency_terms


def test_an_emergency_is_flagged_whatever_the_department(router: Router) -> None:
    fire = router.route("楼道里电动车充电起火了")
    assert (fire.department, fire.emergency) == ("fire_safety", "fire")
    collapsed = router.route("电梯坏了，有个老人困在里面晕倒了")
    assert (collapsed.department, collapsed.emergency) == ("property", "ambulance")
    traditional = router.route("樓道裡有煤氣味")
    assert traditional.emergency == "fire"


@pytest.mark.parametrize(
    "text",
    [
        "没有着火，就是楼道灯坏了",
        "不是煤气味，是下水道的臭味",
        "楼道里电线老化，万一着火怎么办",
        "电动车在楼道充电，有火灾隐患",
        "明天上午小区消防演练，模拟着火疏散",
        "上次着火以后灭火器一直没补",
        "对面工厂的烟囱天天冒烟",
    ],
)
def test_denied_feared_or_past_emergencies_are_not_flagged(router: Router, text: str) -> None:
    routing = router.route(text)
    assert routing.emergency is None
    assert routing.emergency_numbers == ()


# --- low confidence -------------------------------------------------------------------


def test_no_keyword_goes_to_the_grid_worker(router: Router) -> None:
    routing = router.route("今天天气不错")
    assert routing == Routing(OTHER, 0.0, (), None, ())


def test_weak_evidence_goes_to_the_grid_worker_with_the_best_guess(router: Router) -> None:
    routing = router.route("路边那里有点问题")
    assert routing.department == OTHER
    assert routing.confidence < router.taxonomy.min_confidence
    assert routing.guess == "traffic_parking"
    assert routing.terms == ("路边",)


def test_evenly_split_evidence_goes_to_the_grid_worker(router: Router) -> None:
    scores = {"sanitation": 2.0, "environment": 2.0}
    assert router._decide(scores)[0] == OTHER


def test_as_dict_is_the_cli_shape(router: Router) -> None:
    data = router.route("电梯坏了").as_dict()
    assert data["department"] == "property"
    assert set(data) >= {"department", "confidence", "terms", "emergency"}
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data


# --- learning from corrections -------------------------------------------------------

STRAY_CATS = "小区里的流浪猫越来越多，晚上叫得像小孩哭"
POOL = "小区游泳池的水好几天没换了"


@pytest.fixture(scope="module")
def trained(router: Router) -> Router:
    return router.with_corrections([(STRAY_CATS, "city_management"), (POOL, "property")])


def test_a_text_routed_wrong_is_routed_right_after_retraining(
    router: Router, trained: Router
) -> None:
    assert router.route(STRAY_CATS).department == "social_assistance"  # 流浪 misleads it
    assert router.route(POOL).department == OTHER  # nothing it knows
    assert trained.route(STRAY_CATS).department == "city_management"
    assert trained.route(POOL).department == "property"


def test_a_lesson_reaches_texts_with_the_same_words(router: Router, trained: Router) -> None:
    assert router.route("楼下的流浪猫太多了").department == "social_assistance"
    assert trained.route("楼下的流浪猫太多了").department == "city_management"


def test_the_keyword_router_stays_the_floor(trained: Router) -> None:
    assert trained.route("楼下有个流浪汉睡在车棚里").department == "social_assistance"
    assert trained.route("路灯不亮了").department == "municipal"


def test_learned_words_are_shown_as_reasons(trained: Router) -> None:
    assert "游泳池" in trained.route(POOL).terms


def test_retraining_leaves_the_original_router_unchanged(router: Router, trained: Router) -> None:
    assert router.learned_features == 0
    assert trained.learned_features > 0
    assert router.route(POOL).department == OTHER


def test_corrections_to_unknown_departments_are_skipped(router: Router) -> None:
    same = router.with_corrections([(POOL, "no_such_department"), ("", "property")])
    assert same.learned_features == 0


def test_no_corrections_learn_nothing(router: Router) -> None:
    assert router.with_corrections([]).weights_to_json() == router.weights_to_json()


def test_weights_survive_a_json_round_trip(router: Router, trained: Router) -> None:
    stored = trained.weights_to_json()
    for loaded in (router.with_weights_json(stored), Router.from_json(stored)):
        assert loaded.weights_to_json() == stored
        assert loaded.route(POOL) == trained.route(POOL)
        assert loaded.route(STRAY_CATS) == trained.route(STRAY_CATS)
    # A JSON column may hand the weights back already parsed.
    assert router.with_weights_json(json.loads(stored)).route(POOL).department == "property"


def test_weights_for_a_removed_department_are_dropped(router: Router) -> None:
    stored = json.dumps({"version": 1, "weights": {"游泳池": {"swimming": 3, "property": 2}}})
    loaded = router.with_weights_json(stored)
    assert json.loads(loaded.weights_to_json())["weights"] == {"游泳池": {"property": 2}}


@pytest.mark.parametrize(
    "stored",
    [
        '{"version": 2, "weights": {}}',
        '{"weights": {}}',
        '{"version": 1}',
        '{"version": 1, "weights": {"游泳池": {"property": "lots"}}}',
        '{"version": 1, "weights": {"游泳池": 3}}',
    ],
)
def test_bad_stored_weights_are_refused(router: Router, stored: str) -> None:
    with pytest.raises(ValueError):
        router.with_weights_json(stored)


# --- the taxonomy ----------------------------------------------------------------------


def _doc(**departments: Mapping[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {"other": {"name": "其他事项", "keywords": ["咨询"]}}
    base.update(departments)
    return base


def test_the_shipped_taxonomy_has_every_department_of_the_issue() -> None:
    taxonomy = load_taxonomy()
    assert set(taxonomy.keys) == {
        "property", "sanitation", "city_management", "traffic_parking", "public_security",
        "fire_safety", "municipal", "environment", "food_safety", "dispute",
        "social_assistance", "other",
    }  # fmt: skip
    assert taxonomy.department("property").name == "物业服务"
    assert all(len(d.keywords) >= 20 for d in taxonomy.departments)
    assert [k.number for k in taxonomy.emergencies] == ["119", "110", "120"]


def test_keyword_weights_and_default_deadlines() -> None:
    taxonomy = taxonomy_from_mapping(
        _doc(property={"name": "物业服务", "keywords": ["电梯:2.5", "漏水", "物業費:3"]})
    )
    property_ = taxonomy.department("property")
    assert property_.keywords == (("电梯", 2.5), ("漏水", 1.0), ("物业费", 3.0))
    assert (property_.accept_hours, property_.resolve_working_days) == (2, 3)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"property": {"name": "物业服务", "keywords": ["电梯"]}}, "other"),
        (_doc(property={"keywords": ["电梯"]}), "needs a name"),
        (_doc(property={"name": "物业", "keywords": ["电梯", "電梯"]}), "twice"),
        (_doc(property={"name": "物业", "keywords": ["电梯:lots"]}), "not a number"),
        (_doc(property={"name": "物业", "keywords": ["电梯:-1"]}), "above 0"),
        (_doc(property={"name": "物业", "keywords": [":2"]}), "empty"),
        (_doc(property={"name": "物业", "accept_hours": "2"}), "accept_hours"),
        ({**_doc(), "routing": {"min_confidence": 1.5}}, "min_confidence"),
        ({**_doc(), "emergency": {"fire": {"terms": ["着火"]}}}, "number"),
    ],
)
def test_a_broken_taxonomy_is_refused_with_the_table_named(
    doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        taxonomy_from_mapping(doc)


def test_jieba_and_the_user_dictionary_load_once(router: Router) -> None:
    assert segmenter() is segmenter()
    assert default_router() is default_router()
    assert segmenter()("楼道里有人飞线充电") == ["楼道", "里", "有人", "飞线充电"]


# --- the bench set ---------------------------------------------------------------------


def test_the_corpus_covers_every_department_and_the_held_out_set_is_apart(
    router: Router,
) -> None:
    corpus, heldout = _items(CORPUS), _items(HELDOUT)
    assert len(corpus) >= 700 and len(heldout) >= 50
    for items in (corpus, heldout):
        assert all(item["text"].strip() for item in items)
        assert {item["department"] for item in items} == set(router.taxonomy.keys)
    texts = [item["text"] for item in corpus]
    assert len(set(texts)) == len(texts)
    # Never tuned on: not one held-out text is in what the model learned from.
    assert not set(texts) & {item["text"] for item in heldout}

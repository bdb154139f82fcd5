"""Chinese name pools for the demo district: places, roads, estates, people, organisations."""
from __future__ import annotations

import numpy as np

# Two-character place words are built from these halves, so a city-scale district with
# hundreds of streets and thousands of roads still gets distinct, natural-sounding names.
FIRST = list("东西南北新古金银翠龙凤青白红紫清明文兴和安永长福康乐华丰宝春秋云月星锦瑞嘉")
SECOND = list("湖山港苑城桥湾溪林塘田岭坪洲园岗泉亭阁台坊庄坝浦沙塔门滨江")
STREET_SUFFIX = "街道"
TOWN_SUFFIX = "镇"
ROAD_SUFFIXES = ("路", "街", "大道", "巷", "一路", "二路", "三路", "中路", "东路", "西路", "北路", "南路")
ARTERIAL_NAMES = ("幸福大道", "湾区大道", "同心路", "滨河路", "和平路", "文化路", "建设路", "人民路",
                  "新华路", "中山路", "长安路", "朝阳路", "振兴路", "光明路", "团结路", "民主路",
                  "育才路", "学府路", "康乐路", "丰收路", "锦绣路", "海景路", "港湾路", "迎宾大道")
ESTATE_SUFFIXES = ("花园", "小区", "家园", "新村", "苑", "公寓", "雅居", "华庭", "名城")
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
                "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯史陶黎贺顾毛郝")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力斌宇浩凯鹏鑫欣婷雪琳晨"
             "阳佳怡思梓睿博俊晓海志春东国庆丹亮飞宁成波颖慧倩蕾")
AGENCIES = ("区民政局", "区住建局", "区司法局", "区卫健委", "区教育局", "区应急管理局", "区市场监管局",
            "区生态环境局", "区城管执法局", "区人社局", "区发改局", "区信访局")
SOCIAL_ORGS = ("志愿服务队", "物业服务公司", "社工服务中心", "商会", "慈善会", "青年志愿者协会", "老年协会")
SPECIAL_GRIDS = {
    "park": ("公园", "湿地公园", "森林公园", "体育公园"),
    "school": ("第一中学", "实验小学", "第二中学", "外国语学校", "职业技术学院"),
    "hospital": ("人民医院", "中医院", "妇幼保健院"),
    "market": ("农贸市场", "批发市场"),
    "industrial": ("工业园", "科技园", "物流园"),
}
CHINESE_NUMERALS = "零一二三四五六七八九十"


class NamePool:
    """Hands out distinct two-character place words in a seeded order."""

    def __init__(self, rng: np.random.Generator):
        words = [a + b for a in FIRST for b in SECOND if a != b]
        self._words = [words[i] for i in rng.permutation(len(words))]
        self._next = 0
        self._rng = rng

    def any(self) -> str:
        """A word that may repeat (roads, estates: many districts have a 阳光花园)."""
        return self._words[int(self._rng.integers(0, len(self._words)))]

    def word(self) -> str:
        """The next unused two-character word (wraps with a numeral suffix when exhausted)."""
        i = self._next
        self._next += 1
        base = self._words[i % len(self._words)]
        return base if i < len(self._words) else f"{base}{i // len(self._words) + 1}"


def chinese_number(n: int) -> str:
    """1 → 一, 12 → 十二, 35 → 三十五 (1–99)."""
    if n < 11:
        return CHINESE_NUMERALS[n] if n < 10 else "十"
    tens, ones = divmod(n, 10)
    return (CHINESE_NUMERALS[tens] if tens > 1 else "") + "十" + (CHINESE_NUMERALS[ones] if ones else "")


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    """n plausible Chinese personal names (surname + one or two given characters)."""
    surnames = rng.choice(SURNAMES, n)
    first = rng.choice(GIVEN, n)
    second = rng.choice(GIVEN, n)
    two = rng.random(n) < 0.7
    return [s + a + (b if t else "") for s, a, b, t in zip(surnames, first, second, two, strict=True)]


def phone_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """n mobile numbers of the mainland 11-digit form (fictitious)."""
    prefixes = rng.choice(["133", "135", "136", "137", "138", "139", "150", "151", "158", "159", "177",
                           "186", "187", "188", "189", "199"], n)
    rest = rng.integers(0, 10**8, n)
    return [f"{p}{r:08d}" for p, r in zip(prefixes, rest, strict=True)]

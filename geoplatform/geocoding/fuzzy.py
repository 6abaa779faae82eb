"""How plausible a misspelt road name is, by the kind of slip that produced it.

Chinese addresses are mostly typed with a pinyin input method, so the common slips are a
homophone (朝杨 for 朝阳, 理 for 里), a dropped character (榆南街 for 榆树南街) or two
characters swapped; an unrelated character substituted is rarer. ``edit_weight`` ranks
the candidates one edit away so the matcher can prefer the likeliest and refuse a tie.
"""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, pinyin

#: Weight of each kind of one-edit slip (1.0 would be an exact name).
WEIGHTS = {"homophone": 0.92, "dropped": 0.9, "swap": 0.85, "extra": 0.8, "other": 0.7}
# Initials and finals that many speakers (and fuzzy-pinyin input methods) do not tell apart.
_FUZZY_SOUNDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ing", "in"), ("eng", "en"), ("ang", "an"))


@lru_cache(maxsize=65536)
def sounds(char: str) -> frozenset[str]:
    """Toneless readings of a character, plus their fuzzy-pinyin forms (zh=z, ing=in ...)."""
    found = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore") if char.strip() else []
    readings = set(found[0]) if found else set()  # a digit or a letter has no reading
    out = set(readings)
    for reading in readings:
        for a, b in _FUZZY_SOUNDS:
            reading = reading.replace(a, b)
        out.add(reading)
    return frozenset(out)


def same_sound(a: str, b: str) -> bool:
    """Whether two characters can be read alike (homophones, tones ignored)."""
    return a == b or bool(sounds(a) & sounds(b))


def edit_weight(typed: str, name: str) -> float | None:
    """Weight of the single slip turning ``name`` into ``typed``, or None if more than one edit."""
    if typed == name:
        return 1.0
    lt, ln = len(typed), len(name)
    if abs(lt - ln) > 1:
        return None
    i = 0
    while i < min(lt, ln) and typed[i] == name[i]:
        i += 1
    if lt == ln:
        if typed[i + 1:] == name[i + 1:]:
            return WEIGHTS["homophone"] if same_sound(typed[i], name[i]) else WEIGHTS["other"]
        if typed[i + 2:] == name[i + 2:] and typed[i:i + 2] == name[i:i + 2][::-1]:
            return WEIGHTS["swap"]
        return None
    if lt < ln:
        return WEIGHTS["dropped"] if typed[i:] == name[i + 1:] else None
    return WEIGHTS["extra"] if typed[i + 1:] == name[i:] else None

"""Build the name gazetteer and the common-word list that redaction ships (``nlp/data/names/``) from openly
licensed data published on PyPI. Not imported by the app: run it only to refresh the lists.

Sources (exact versions; every one is a registry package, so the build needs no other download):

- ``names==0.3.0``: US Census 1990 first names (male, female) and surnames. Public domain (US Government work).
- ``Faker==40.54.0``: the first and last name lists of its person providers in many locales (British, Irish,
  Nigerian English, Yoruba, Igbo, Hausa, Twi, Kenyan, Swahili, Zulu, Arabic, Persian, Turkish, Indian languages,
  Pakistani, Bangladeshi, Polish, Romanian, Baltic, Balkan, Ukrainian, Vietnamese, Chinese pinyin...). MIT licence.
- ``gender-guesser==0.4.0``: Jörg Michael's ``nam_dict.txt`` (about 45,000 first names from Europe, Turkey,
  Arabia/Persia, India, China, Vietnam and more). GNU Free Documentation License 1.2 or later.
- ``nicknames==1.0.1``: a hand-curated table of English given names and their nicknames. Apache-2.0.
- ``english-words==2.0.2``: the ``web2`` word list (Webster's Second International, public domain), the
  entries it writes in lower case, as shipped by the package (MIT).
- ``wordfreq==3.1.1``: English word frequencies (data CC BY-SA 4.0). Only used to keep the common words of web2.

Outputs (one lower-case entry per line, sorted):

- ``given_names.txt``: given names and diminutives in Latin script (accents folded), 2+ letters.
- ``surnames.txt``: surnames; the US Census list is cut to names held by at least 0.0005 % of people.
- ``common_words.txt``: English words that people write in lower case as ordinary words (in lower case in web2, or an
  inflected form of one, and at least ``COMMON_ZIPF`` on wordfreq's Zipf scale; or any word of Zipf 4 or more that
  is not a name). A name that is also one of these
  ("will", "rose", "grace", "hope") is redacted only when the context says a person is meant.

Run (the packages are unpacked, not installed, into a scratch folder):

    pip download --no-deps -d /tmp/names names==0.3.0 Faker==40.54.0 gender-guesser==0.4.0 nicknames==1.0.1 \\
        english-words==2.0.2 wordfreq==3.1.1
    pip install --target /tmp/names/msgpack msgpack
    python nlp/data/build_names.py /tmp/names
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import pickle
import pkgutil
import re
import sys
import tarfile
import unicodedata
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "names"
COMMON_ZIPF = 3.0
FREQUENT_ZIPF = 4.0
CENSUS_MIN_PERCENT = 0.0005
_LATIN = re.compile(r"[a-z][a-z'\-]*[a-z]")


def fold(name: str) -> str:
    """Lower case, accents removed ("Zoë" -> "zoe", "Łukasz" -> "lukasz"), curly apostrophes straightened."""
    name = name.strip().lower().replace("’", "'").replace("ł", "l").replace("ø", "o").replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _add(target: set[str], name: str) -> None:
    for part in re.split(r"[\s]+", fold(name)):
        if len(part) >= 2 and _LATIN.fullmatch(part):
            target.add(part)


def _unpack(folder: Path, prefix: str) -> Path:
    """Unpack the wheel or sdist whose file name starts with ``prefix`` into ``folder/unpacked/<prefix>``."""
    target = folder / "unpacked" / prefix
    if target.exists():
        return target
    archive = next(p for p in sorted(folder.iterdir()) if p.name.lower().startswith(prefix) and p.is_file())
    target.mkdir(parents=True)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(target)  # noqa: S202 - a wheel from PyPI, unpacked into a scratch folder
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(target, filter="data")
    return target


class _WordSetUnpickler(pickle.Unpickler):
    """english-words ships its lists as pickled sets of strings: allow exactly that and nothing else."""

    def find_class(self, module: str, name: str):
        if module == "builtins" and name in {"set", "frozenset", "list", "dict", "str"}:
            return getattr(__import__("builtins"), name)
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def census(folder: Path, given: set[str], surnames: set[str]) -> None:
    root = next(_unpack(folder, "names-").glob("names-*/names"))
    for file in ("dist.male.first", "dist.female.first"):
        for line in (root / file).read_text(encoding="ascii").splitlines():
            _add(given, line.split()[0])
    for line in (root / "dist.all.last").read_text(encoding="ascii").splitlines():
        name, percent = line.split()[:2]
        if float(percent) >= CENSUS_MIN_PERCENT:
            _add(surnames, name)


def faker(folder: Path, given: set[str], surnames: set[str]) -> None:
    sys.path.insert(0, str(_unpack(folder, "faker-")))
    try:
        person = importlib.import_module("faker.providers.person")
        for module in pkgutil.iter_modules(person.__path__):
            provider = getattr(importlib.import_module(f"faker.providers.person.{module.name}"), "Provider", None)
            if provider is None:
                continue
            for attr in dir(provider):
                value = getattr(provider, attr)
                if not isinstance(value, tuple | list | dict):
                    continue
                names = list(value.keys() if isinstance(value, dict) else value)
                if not names or not all(isinstance(n, str) for n in names):
                    continue
                if attr.startswith(("first_name", "first_romanized_name")):
                    target = given
                elif attr.startswith(("last_name", "last_romanized_name")):
                    target = surnames
                else:
                    continue
                for n in names:
                    _add(target, n)
    finally:
        sys.path.pop(0)


def nam_dict(folder: Path, given: set[str]) -> None:
    path = _unpack(folder, "gender_guesser-") / "gender_guesser" / "data" / "nam_dict.txt"
    for line in path.read_text(encoding="iso-8859-1").splitlines():
        if line.startswith("#") or len(line) < 31 or line[:2].strip() in {"=", ""}:
            continue
        name = line[3:29].strip().replace("+", " ")
        # nam_dict writes some letters as <...> codes ("<s>" for s with caron): drop those entries' code marks.
        name = re.sub(r"<[^>]*>", "", name)
        _add(given, name)


def nicknames(folder: Path, given: set[str]) -> None:
    path = _unpack(folder, "nicknames-") / "nicknames" / "names.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.reader(fh):
            for n in row:
                _add(given, n)


def common_words(folder: Path) -> set[str]:
    web2_path = _unpack(folder, "english_words-") / "english_words" / "data" / "web2.pickle"
    with web2_path.open("rb") as fh:
        web2 = {w for w in _WordSetUnpickler(fh).load() if isinstance(w, str) and w.islower()}
    sys.path.insert(0, str(folder / "msgpack"))
    try:
        import msgpack  # noqa: PLC0415 - the unpacked source's copy, importable only once sys.path names it
    finally:
        sys.path.pop(0)
    freq_path = _unpack(folder, "wordfreq-") / "wordfreq" / "data" / "large_en.msgpack.gz"
    with gzip.open(freq_path) as fh:
        packed = msgpack.load(io.BytesIO(fh.read()), raw=False)
    # cBpack format: a header, then one list of words per centibel of frequency (bin i: frequency 10 ** (-i / 100)).
    zipf: dict[str, float] = {}
    for i, words in enumerate(packed[1:]):
        for w in words:
            zipf.setdefault(w, 9 - i / 100)
    common = {w for w in web2 if zipf.get(w, 0) >= COMMON_ZIPF and _LATIN.fullmatch(w)}
    # web2 lists head words: add the frequent inflected forms of its words ("drives", "sorted", "parcels").
    for w, z in zipf.items():
        if z >= COMMON_ZIPF and w not in common and _LATIN.fullmatch(w) and any(b in web2 for b in _bases(w)):
            common.add(w)
    return common


def very_frequent(folder: Path, names: set[str]) -> set[str]:
    """Words so frequent in English (Zipf >= 4) that they are ordinary words whatever web2 lists ("women", "won't",
    "cafe"), unless they are names."""
    freq_path = _unpack(folder, "wordfreq-") / "wordfreq" / "data" / "large_en.msgpack.gz"
    sys.path.insert(0, str(folder / "msgpack"))
    try:
        import msgpack  # noqa: PLC0415 - the unpacked source's copy, importable only once sys.path names it
    finally:
        sys.path.pop(0)
    with gzip.open(freq_path) as fh:
        packed = msgpack.load(io.BytesIO(fh.read()), raw=False)
    out: set[str] = set()
    for i, words in enumerate(packed[1:]):
        if 9 - i / 100 < FREQUENT_ZIPF:
            break
        out.update(w for w in words if _LATIN.fullmatch(w) and w not in names)
    return out


def _bases(word: str) -> set[str]:
    """Possible head words of an inflected English word: "drives" -> drive, "sorted" -> sort, "carries" -> carry."""
    out = set()
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("es", ""),
        ("s", ""),
        ("ed", ""),
        ("ed", "e"),
        ("d", ""),
        ("ing", ""),
        ("ing", "e"),
        ("er", ""),
        ("ers", ""),
        ("est", ""),
        ("ly", ""),
        ("'s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)] + repl
            out.add(base)
            if len(base) > 3 and base[-1] == base[-2]:
                out.add(base[:-1])  # "stopped" -> stop
    return out


def write(name: str, words: set[str], header: str) -> None:
    OUT.mkdir(exist_ok=True)
    body = "\n".join(sorted(words))
    (OUT / name).write_text(f"# {header}\n{body}\n", encoding="utf-8")
    print(f"{name}: {len(words)}")


def main(folder: str) -> None:
    src = Path(folder)
    given: set[str] = set()
    surnames: set[str] = set()
    census(src, given, surnames)
    faker(src, given, surnames)
    nam_dict(src, given)
    nicknames(src, given)
    common = common_words(src) | very_frequent(src, given | surnames)
    write("given_names.txt", given, "Given names and nicknames; built by nlp/data/build_names.py (see ATTRIBUTION.md).")
    write("surnames.txt", surnames, "Surnames; built by nlp/data/build_names.py (see ATTRIBUTION.md).")
    write("common_words.txt", common, "Common English words (web2 x wordfreq, CC BY-SA 4.0); see ATTRIBUTION.md.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/names")  # noqa: S108 - a scratch folder the user names

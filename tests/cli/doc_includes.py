"""Checks that every code block marked <!-- file: PATH --> in a Markdown file is PATH verbatim,
and that every .py under docs/interop/ is shown. Standard library only.

    /usr/bin/python3 tests/cli/doc_includes.py docs/interop.md [--update]

--update rewrites the blocks from the files (run it after editing a recipe).
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"<!-- file: (\S+) -->\n```([a-z]*)\n(.*?)```\n", re.S)


def main(doc, update):
    path = ROOT / doc
    text = path.read_text()
    bad, shown = [], set()

    def replace(m):
        name = m.group(1)
        shown.add(name)
        want = (ROOT / name).read_text()
        if m.group(3) != want:
            bad.append(name)
        return f"<!-- file: {name} -->\n```{m.group(2)}\n{want}```\n" if update else m.group(0)

    new = MARK.sub(replace, text)
    missing = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "docs/interop").glob("*.py"))
               if str(p.relative_to(ROOT)) not in shown]
    if update and new != text:
        path.write_text(new)
        print(f"{doc}: updated {', '.join(bad)}")
        bad = []
    for name in bad:
        print(f"{doc}: the block marked {name} differs from the file (run with --update)")
    for name in missing:
        print(f"{doc}: {name} is not shown (add <!-- file: {name} --> and a code block)")
    print(f"{doc}: {len(shown)} code blocks checked against their files")
    return 1 if bad or missing or not shown else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--update" in sys.argv[2:]))

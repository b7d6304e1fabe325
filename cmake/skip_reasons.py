#!/usr/bin/env python3
"""skip_reasons.py JUNIT.xml: the skipped tests of a ctest run, grouped by
reason, on the console (CTest itself lists them without their reasons).

A gtest skip's reason is the line after "...: Skipped" in its output; a test
that exits with its SKIP_RETURN_CODE (77) says "skipped: <reason>"."""
import collections
import re
import sys
import xml.etree.ElementTree as ET


def reason(out: str) -> str:
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if re.search(r": Skipped$", line) and i + 1 < len(lines):
            return lines[i + 1].strip()
        m = re.match(r"\s*(?:\d+: )?skipped: (.*)", line)
        if m:
            return m.group(1).strip()
    return "(no reason printed)"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        root = ET.parse(sys.argv[1]).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"skip_reasons: cannot read {sys.argv[1]}: {e}", file=sys.stderr)
        return 2
    by_reason = collections.defaultdict(list)
    total = 0
    for case in root.iter("testcase"):
        total += 1
        if case.find("skipped") is None:
            continue
        out = case.findtext("system-out") or ""
        by_reason[reason(out)].append(case.get("name", "?"))
    skipped = sum(len(v) for v in by_reason.values())
    print(f"skipped {skipped} of {total} tests (not counted as passed):")
    for why, names in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(names):5d}  {why}")
        print(f"         e.g. {names[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
